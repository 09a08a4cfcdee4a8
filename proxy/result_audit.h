// The audit record of one result of a statement that touches a protected column, and the hold
// that makes "no protected row leaves before its record is durable" true.
//
// While a result is collected, everything pgmask would send of it is held here instead. When the
// result ends (CommandComplete, PortalSuspended, ErrorResponse, EmptyQueryResponse), its record
// is built (rows, row keys, outcome, duration) and submitted, and the frame that ended it waits
// (Verdict::kHoldAll: what was pending before it waits too, so the client gets one write) until
// every sink has answered: the answer is posted to the session's thread, which lets the
// server's frames flow again. Then the held bytes go out, or, when the record
// could not be made durable and audit_on_failure is block, an ErrorResponse goes out in their
// place. A result larger than kMaxHeldBytes has its record written when the limit is reached,
// with every key list marked capped (more rows followed), and the rest of it streams on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "protocol/messages.h"
#include "proxy/audit_record.h"
#include "proxy/audit_row_keys.h"
#include "proxy/query_plan.h"
#include "proxy/session_audit.h"

namespace pgmask::proxy {

struct SessionState;

inline constexpr size_t kMaxHeldBytes = size_t{1} << 20;

class ResultAudit {
 public:
  enum class State {
    kIdle,        // no audited result in progress
    kCollecting,  // holding the result's output
    kWaiting,     // its record was submitted; the answer is not back
    kAnswered,    // the answer is back: release or refuse, then go on
    kStreaming,   // recorded early (too large to hold); the rest passes until the result ends
  };

  explicit ResultAudit(SessionState& s) : s_(s) {}
  ~ResultAudit();
  ResultAudit(const ResultAudit&) = delete;
  ResultAudit& operator=(const ResultAudit&) = delete;

  State state() const;

  // A result of `own` starts (see SessionAudit::StatementRecord for `source`).
  void Begin(const PlannedStatementPtr& own, const PlannedStatementPtr& source, AuditProtocol protocol,
             absl::Time start);
  void set_protocol(AuditProtocol protocol) { record_.protocol = protocol; }
  // The statement only reads (SELECT, FETCH, COPY TO, SHOW): refusing its result undoes it all.
  // Any other has run once its result comes, so its record is never rewritten as refused.
  bool reads_only() const { return reads_only_; }
  // The result's columns: finds the fields that carry row keys.
  void SetFields(const std::vector<protocol::FieldDescription>& fields);
  // One row sent: a DataRow body (its keys hashed), or null for a row of COPY data.
  void CountRow(const protocol::Bytes* data_row);
  // COPY data carries no DataRows: its fields are seen one by one as the COPY is split into rows.
  bool wants_keys() const { return active_ && complete_ && !key_fields_.empty(); }
  void CopyField(size_t field, std::optional<std::string_view> value);
  // The CommandComplete tag that ends the result: its row count ("INSERT 0 5", "COPY 12") is the
  // record's, which also counts rows written and COPY rows however they were framed.
  void SetCommandTag(std::string_view tag);
  void Hold(std::string_view bytes) { held_.append(bytes); }
  bool over_limit() const { return held_.size() > kMaxHeldBytes; }

  // Submits the record. `sqlstate` non-empty: PostgreSQL answered with that error. `complete`:
  // false when more rows follow (the record is written early).
  void Submit(std::string_view sqlstate, bool complete);
  // pgmask refused the result itself (a denied column, or the trail is unavailable): records the
  // refusal, drops what was held; nobody waits for it.
  void Refuse(std::string_view sqlstate);

  // kAnswered: whether the held bytes may go out (the record is durable, or audit_on_failure
  // allow); they are then taken with TakeHeld.
  bool released() const;
  std::string TakeHeld();
  // After kAnswered: back to kIdle, or on to kStreaming when the record was written early and
  // the held bytes were taken.
  void Finish();
  // A streaming result ended, or the result was refused: back to kIdle.
  void EndResult();

 private:
  // Shared with the sink's callback, which may outlive this object; touched only on the
  // session's thread (the callback posts there).
  struct Completion {
    bool answered = false;
    absl::Status status;
    ResultAudit* owner = nullptr;
  };

  SessionState& s_;
  bool active_ = false;
  bool complete_ = true;
  std::shared_ptr<Completion> completion_;
  AuditStatement record_;
  std::string held_;
  bool released_last_ = false;  // TakeHeld ran since the last Submit
  bool reads_only_ = false;
  std::vector<AuditKeyField> key_fields_;
  std::vector<uint32_t> binary_types_;  // per field: its type OID when sent in binary, else 0
  std::vector<protocol::WireValue> values_;
  std::optional<AuditRowKeys> keys_;
  uint64_t rows_ = 0;
  std::optional<uint64_t> tag_rows_;

  // Hashes `value`, the row's value of key field `k`.
  void AddKey(const AuditKeyField& k, std::string_view value);
};

}  // namespace pgmask::proxy
