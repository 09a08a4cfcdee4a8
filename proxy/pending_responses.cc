#include "proxy/pending_responses.h"

#include <algorithm>

#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

void PendingResponses::Push(PendingKind kind, std::string_view portal, bool injected, bool closes_portal) {
  const bool sync = kind == PendingKind::kSync;
  const bool ignored_in_copy = sync && copy_in_epoch_ == copy_ends_sent_;
  skipped_last_ = ignored_in_copy || (skipping_to_sync_ && !sync);
  if (skipped_last_) {
    skipped_ = {kind, injected, closes_portal, std::string(portal)};
    return;
  }
  if (sync) skipping_to_sync_ = false;
  items_.push_back({kind, injected, closes_portal, std::string(portal)});
  items_.back().copy_epoch = copy_ends_sent_;
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

void PendingResponses::CopyInStarted() {
  if (empty()) return;
  const uint32_t epoch = front().copy_epoch;
  if (epoch == copy_ends_sent_) copy_in_epoch_ = epoch;  // the client's CopyDone is still to come
  const auto ignored = [epoch](const PendingResponse& r) {
    return r.kind == PendingKind::kSync && !r.injected && r.copy_epoch == epoch;
  };
  items_.erase(std::remove_if(items_.begin() + static_cast<std::ptrdiff_t>(head_) + 1, items_.end(), ignored),
               items_.end());
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
