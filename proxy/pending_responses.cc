#include "proxy/pending_responses.h"

#include <algorithm>

#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

void PendingResponses::Push(PendingKind kind, std::string_view portal, bool injected, bool closes_portal) {
  const bool sync = kind == PendingKind::kSync;
  skipped_last_ = skipping_to_sync_ && !sync;
  if (skipped_last_) {
    skipped_ = {kind, injected, closes_portal, std::string(portal)};
    return;
  }
  if (sync) skipping_to_sync_ = false;
  items_.push_back({kind, injected, closes_portal, std::string(portal)});
  items_.back().copy_epoch = copy_ends_sent_;
  // The COPY may have failed already, its error still on the way: ignored or answered.
  items_.back().maybe_ignored = sync && copy_in_epoch_ == copy_ends_sent_;
}

const PendingResponse* PendingResponses::Last(PendingKind kind, std::string_view key) const {
  for (size_t i = items_.size(); i > head_; --i) {
    const PendingResponse& item = items_[i - 1];
    if (item.kind == kind && (kind == PendingKind::kBind ? item.portal : item.name) == key) return &item;
  }
  return nullptr;
}

void PendingResponses::Pop() {
  if (empty()) return;
  ++head_;
  if (head_ == items_.size()) {
    items_.clear();
    head_ = 0;
  }
}

bool PendingResponses::DropUntilSync() {
  while (!empty() && front().kind != PendingKind::kSync) Pop();
  if (empty()) skipping_to_sync_ = true;
  return empty() || !front().injected;
}

void PendingResponses::CopyEndSent() {
  ++copy_ends_sent_;
  copy_in_epoch_.reset();
}

namespace {

bool SentDuringCopy(const PendingResponse& r, uint32_t epoch) {
  return r.kind == PendingKind::kSync && !r.injected && r.copy_epoch == epoch;
}

}  // namespace

void PendingResponses::CopyInStarted() {
  if (empty()) return;
  front().copy_in = true;
  const uint32_t epoch = front().copy_epoch;
  if (epoch == copy_ends_sent_) copy_in_epoch_ = epoch;  // the client's CopyDone is still to come
  for (size_t i = head_ + 1; i < items_.size(); ++i) {
    if (SentDuringCopy(items_[i], epoch)) items_[i].maybe_ignored = true;
  }
}

bool PendingResponses::CopyEnded(bool failed) {
  if (empty() || !front().copy_in) return true;
  front().copy_in = false;
  copy_in_epoch_.reset();  // Syncs sent from now on reach a server out of COPY: answered
  const auto first = items_.begin() + static_cast<std::ptrdiff_t>(head_) + 1;
  const uint32_t epoch = front().copy_epoch;
  if (!failed) {
    items_.erase(std::remove_if(first, items_.end(),
                                [epoch](const PendingResponse& r) { return r.maybe_ignored && SentDuringCopy(r, epoch); }),
                 items_.end());
    return true;
  }
  // A request sent during the COPY was either read by it (and made it fail) or read after the
  // failure; one after a Sync of unknown fate may be skipped up to that Sync or not.
  bool unsure = false;
  for (auto it = first; it != items_.end(); ++it) {
    if (it->kind == PendingKind::kSync) {
      unsure = it->maybe_ignored;
    } else if (unsure || it->copy_epoch == epoch) {
      return false;
    }
  }
  return true;
}

void PendingResponses::SettleSyncs(bool ready_for_query) {
  if (!ready_for_query) {
    while (!empty() && front().maybe_ignored) Pop();
    return;
  }
  if (empty() || !front().maybe_ignored) return;
  // ReadyForQuery says nothing about which Sync it answers: one that is certainly answered goes
  // first, those that may have been ignored stay until a later answer settles them.
  for (size_t i = head_ + 1; i < items_.size() && items_[i].kind == PendingKind::kSync; ++i) {
    if (!items_[i].maybe_ignored) {
      std::swap(items_[head_], items_[i]);
      return;
    }
  }
}

bool PendingResponses::owes_ready() const {
  return std::any_of(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), [](const PendingResponse& r) {
    return r.kind == PendingKind::kQuery || r.kind == PendingKind::kSync || r.kind == PendingKind::kFunctionCall;
  });
}

bool PendingResponses::described(std::string_view portal) const {
  const auto it = bound_.find(ToAbsl(portal));
  return it != bound_.end() && it->second.described;
}

void PendingResponses::MarkBound(std::string_view portal, std::string_view statement,
                                 protocol::FormatCodes result_formats) {
  BoundPortal& bound = bound_[ToAbsl(portal)];
  bound.described = false;
  bound.columns.reset();
  const auto known = statement_columns_.find(ToAbsl(statement));
  if (known == statement_columns_.end() || known->second.definition != DefinitionOf(statement)) return;
  const std::vector<protocol::FieldDescription>& fields = *known->second.columns;
  bool same_formats = true;
  for (size_t i = 0; i < fields.size(); ++i) same_formats = same_formats && fields[i].format == result_formats.ForColumn(i);
  if (same_formats) {
    bound.columns = known->second.columns;
    return;
  }
  auto reformatted = std::make_shared<std::vector<protocol::FieldDescription>>(fields);
  for (size_t i = 0; i < reformatted->size(); ++i) (*reformatted)[i].format = result_formats.ForColumn(i);
  bound.columns = std::move(reformatted);
}

void PendingResponses::MarkDescribed(std::string_view portal) { bound_[ToAbsl(portal)].described = true; }

void PendingResponses::ForgetPortal(std::string_view portal) { bound_.erase(ToAbsl(portal)); }

ColumnsPtr PendingResponses::KnownColumns(std::string_view portal) const {
  const auto it = bound_.find(ToAbsl(portal));
  return it == bound_.end() ? nullptr : it->second.columns;
}

void PendingResponses::StatementRedefined(std::string_view statement) {
  definitions_[ToAbsl(statement)] = ++last_definition_;
  statement_columns_.erase(ToAbsl(statement));
}

void PendingResponses::AllStatementsRedefined() {
  definitions_.clear();
  statement_columns_.clear();
  unparsed_definition_ = ++last_definition_;
}

uint64_t PendingResponses::DefinitionOf(std::string_view statement) const {
  const auto it = definitions_.find(ToAbsl(statement));
  return it == definitions_.end() ? unparsed_definition_ : it->second;
}

void PendingResponses::PortalBound(const std::string& portal, const std::string& statement, uint64_t definition) {
  HeldStatement& held = server_portals_[portal];
  held.statement = statement;
  held.definition = definition;
}

void PendingResponses::PortalClosed(const std::string& portal) { server_portals_.erase(portal); }

void PendingResponses::RecordStatementColumns(const std::string& portal,
                                              const std::vector<protocol::FieldDescription>& fields) {
  const auto held = server_portals_.find(portal);
  // Answers about a statement the client has defined again since describe the old one.
  if (held == server_portals_.end() || held->second.definition != DefinitionOf(held->second.statement)) return;
  StatementColumns& known = statement_columns_[held->second.statement];
  if (known.definition == held->second.definition && known.columns != nullptr) return;
  auto columns = std::make_shared<std::vector<protocol::FieldDescription>>(fields);
  // The names point into a message buffer that is about to be reused; the plan needs none.
  for (protocol::FieldDescription& f : *columns) f.name = {};
  known.definition = held->second.definition;
  known.columns = std::move(columns);
}

void PendingResponses::DropPortalFields(const std::string& portal) { portal_fields_.erase(portal); }

void PendingResponses::PortalRedefined(const std::string& portal) {
  DropPortalFields(portal);
  PortalClosed(portal);
  ForgetPortal(portal);
}

void PendingResponses::AllPortalsRedefined() {
  portal_fields_.clear();
  server_portals_.clear();
  bound_.clear();
}

void PendingResponses::SetPortalFields(const std::string& portal,
                                       const std::vector<protocol::FieldDescription>& fields) {
  std::vector<protocol::FieldDescription>& stored = portal_fields_[portal];
  stored = fields;
  // The names point into a message buffer that is about to be reused; the plan needs none.
  for (protocol::FieldDescription& f : stored) f.name = {};
}

const std::vector<protocol::FieldDescription>* PendingResponses::PortalFields(const std::string& portal) const {
  const auto it = portal_fields_.find(portal);
  return it == portal_fields_.end() ? nullptr : &it->second;
}

const std::vector<protocol::FieldDescription>* PendingResponses::ExecuteColumns(const PendingResponse& execute) const {
  const std::vector<protocol::FieldDescription>* fields = PortalFields(execute.portal);
  return fields != nullptr ? fields : execute.columns.get();
}

}  // namespace pgmask::proxy
