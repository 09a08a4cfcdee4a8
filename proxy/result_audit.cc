#include "proxy/result_audit.h"

#include <boost/asio/post.hpp>

#include "absl/base/internal/endian.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "protocol/string_view_bridge.h"
#include "proxy/session_state.h"

namespace pgmask::proxy {
namespace {

// Row keys sent in binary format: the integer types, as PostgreSQL would print them.
std::optional<std::string> BinaryKeyText(uint32_t type_oid, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  switch (type_oid) {
    case 21:  // int2
      if (bytes.size() == 2) return absl::StrCat(static_cast<int16_t>((p[0] << 8) | p[1]));
      break;
    case 23:  // int4
      if (bytes.size() == 4) return absl::StrCat(static_cast<int32_t>(absl::big_endian::Load32(p)));
      break;
    case 20:  // int8
      if (bytes.size() == 8) return absl::StrCat(static_cast<int64_t>(absl::big_endian::Load64(p)));
      break;
    default:
      break;
  }
  return std::nullopt;
}

// The last word of a tag, when it is a count: SELECT, INSERT, UPDATE, DELETE, MERGE, COPY, FETCH
// and MOVE end with one, other tags have none.
std::optional<uint64_t> CommandTagRows(std::string_view tag) {
  const size_t space = tag.rfind(' ');
  if (space == std::string_view::npos) return std::nullopt;
  uint64_t rows = 0;
  if (!absl::SimpleAtoi(ToAbsl(tag.substr(space + 1)), &rows)) return std::nullopt;
  return rows;
}

}  // namespace

ResultAudit::~ResultAudit() {
  if (completion_ != nullptr) completion_->owner = nullptr;
}

ResultAudit::State ResultAudit::state() const {
  if (completion_ != nullptr) return completion_->answered ? State::kAnswered : State::kWaiting;
  if (!active_) return State::kIdle;
  return complete_ ? State::kCollecting : State::kStreaming;
}

namespace {

// Statements that change nothing when they run (a cursor's DECLARE stands for its FETCH).
bool ReadsOnly(policy::StatementKind kind) {
  switch (kind) {
    case policy::StatementKind::kSelect:
    case policy::StatementKind::kCopyTo:
    case policy::StatementKind::kFetch:
    case policy::StatementKind::kDeclareCursor:
    case policy::StatementKind::kShow:
      return true;
    default:
      return false;
  }
}

}  // namespace

void ResultAudit::Begin(const PlannedStatementPtr& own, const PlannedStatementPtr& source, AuditProtocol protocol,
                        absl::Time start) {
  active_ = true;
  complete_ = true;
  held_.clear();
  key_fields_.clear();
  rows_ = 0;
  tag_rows_.reset();
  keys_.emplace(&s_.audit->hasher(), kDefaultAuditKeyCap);
  record_ = s_.audit->StatementRecord(s_, *own, *source, protocol, start);
  // Untraceable statements and FunctionCalls are kUtility: they may have written.
  reads_only_ = ReadsOnly(own->kind) && ReadsOnly(source->kind);
}

void ResultAudit::SetFields(const std::vector<protocol::FieldDescription>& fields) {
  key_fields_ = s_.audit->KeyFields(s_, fields);
  binary_types_.assign(fields.size(), 0);
  for (size_t i = 0; i < fields.size(); ++i) binary_types_[i] = fields[i].format == 1 ? fields[i].type_oid : 0;
}

void ResultAudit::CountRow(const protocol::Bytes* data_row) {
  ++rows_;
  if (data_row == nullptr || key_fields_.empty() || !complete_) return;
  if (!protocol::ParseDataRow(*data_row, values_).ok()) return;
  for (const AuditKeyField& k : key_fields_) {
    if (k.field < values_.size() && !values_[k.field].is_null()) AddKey(k, values_[k.field].text());
  }
}

void ResultAudit::CopyField(size_t field, std::optional<std::string_view> value) {
  if (!value.has_value()) return;
  for (const AuditKeyField& k : key_fields_) {
    if (k.field == field) AddKey(k, *value);
  }
}

void ResultAudit::AddKey(const AuditKeyField& k, std::string_view value) {
  const uint32_t binary_type = k.field < binary_types_.size() ? binary_types_[k.field] : 0;
  if (binary_type == 0) {
    keys_->Add(k.table, value);
  } else if (const std::optional<std::string> text = BinaryKeyText(binary_type, value)) {
    keys_->Add(k.table, *text);
  }
}

void ResultAudit::SetCommandTag(std::string_view tag) { tag_rows_ = CommandTagRows(tag); }

void ResultAudit::Submit(std::string_view sqlstate, bool complete) {
  complete_ = complete;
  record_.rows = complete && tag_rows_.has_value() ? *tag_rows_ : rows_;
  record_.keys = keys_->Take();
  if (!complete) {
    for (AuditTableKeys& k : record_.keys) k.capped = true;
  }
  if (!sqlstate.empty()) {
    record_.outcome = AuditOutcome::kFailed;
    record_.sqlstate = std::string(sqlstate);
  }
  record_.duration = absl::Now() - record_.time;
  // A statement that may have written ran whatever happens to its result: its record stays as
  // submitted (what the server did) even when it is written late.
  record_.refused_unless_durable = s_.audit->service().blocks() && reads_only_;
  released_last_ = false;
  completion_ = std::make_shared<Completion>();
  completion_->owner = this;
  s_.audit->service().Submit(
      record_, [completion = completion_, executor = s_.audit->executor()](absl::Status status) {
        asio::post(executor, [completion, status = std::move(status)]() mutable {
          completion->answered = true;
          completion->status = std::move(status);
          if (completion->owner != nullptr && completion->owner->s_.release_server) {
            completion->owner->s_.release_server();
          }
        });
      });
}

void ResultAudit::Refuse(std::string_view sqlstate) {
  record_.rows.reset();
  record_.keys.clear();
  record_.outcome = AuditOutcome::kRefused;
  record_.sqlstate = std::string(sqlstate);
  record_.duration = absl::Now() - record_.time;
  s_.audit->service().Record(record_);
  held_.clear();
  active_ = false;
  complete_ = true;
}

bool ResultAudit::released() const {
  return completion_ != nullptr && (completion_->status.ok() || !s_.audit->service().blocks());
}

std::string ResultAudit::TakeHeld() {
  released_last_ = true;
  return std::move(held_);
}

void ResultAudit::Finish() {
  completion_.reset();
  held_.clear();
  // Recorded early and released: the rest of the result streams until it ends.
  if (!complete_ && released_last_) return;
  EndResult();
}

void ResultAudit::EndResult() {
  active_ = false;
  complete_ = true;
}

}  // namespace pgmask::proxy
