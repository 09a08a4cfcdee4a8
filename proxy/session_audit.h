// One session's side of the audit trail (proxy/audit_service.h): builds the records of its
// statements and events from its plans and identity, hashes the row keys its results return,
// and tracks break-glass. The result side (holding rows until their record is durable) is
// proxy/result_audit.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "protocol/messages.h"
#include "proxy/asio.h"
#include "proxy/audit_record.h"
#include "proxy/audit_row_keys.h"
#include "proxy/audit_service.h"
#include "proxy/audit_statement_text.h"
#include "proxy/query_plan.h"

namespace pgmask::proxy {

struct SessionState;

// A result field that carries the row key of a table with `key:` in the policy.
struct AuditKeyField {
  size_t field = 0;
  std::string table;  // "schema.name" as the policy writes it
};

class SessionAudit {
 public:
  SessionAudit(AuditService& service, asio::any_io_executor executor, AuditRowKeyHasher hasher)
      : service_(service), executor_(std::move(executor)), hasher_(std::move(hasher)) {}

  // Null when the audit key cannot key the row-key HMAC (it always can once the service opened).
  static std::unique_ptr<SessionAudit> Create(AuditService& service, asio::any_io_executor executor);

  AuditService& service() { return service_; }
  const asio::any_io_executor& executor() const { return executor_; }
  AuditRowKeyHasher& hasher() { return hasher_; }


  // `plan` with the audit text of `sql`'s statements attached to those that touch a protected
  // column (copies: cached plans are shared).
  static QueryPlanPtr WithTexts(const QueryPlanPtr& plan, std::string_view sql, const AuditTextOptions& options);

  // A statement record for `own` (the statement as sent) whose rows follow `source` (the PREPARE
  // or DECLARE behind an EXECUTE or FETCH; `own` otherwise), with outcome allowed or masked from
  // the session's actions; rows, keys, duration and sqlstate are the caller's.
  AuditStatement StatementRecord(const SessionState& s, const PlannedStatement& own, const PlannedStatement& source,
                                 AuditProtocol protocol, absl::Time start) const;

  // pgmask refused a Query or Parse message: one record for the statement refused.
  void RecordRefusal(const SessionState& s, const QueryPlan& plan, std::string_view sql, AuditProtocol protocol,
                     std::string_view sqlstate);

  // pgmask refused `own` (its audit text attached): its record, `refused` with `sqlstate`.
  void RecordRefused(const SessionState& s, const PlannedStatement& own, AuditProtocol protocol,
                     std::string_view sqlstate) {
    RecordRefused(s, own, own, protocol, sqlstate);
  }
  // The same for `own` running `source` (an EXECUTE or FETCH, see StatementRecord).
  void RecordRefused(const SessionState& s, const PlannedStatement& own, const PlannedStatement& source,
                     AuditProtocol protocol, std::string_view sqlstate);

  // A FunctionCall message (its body) as the statement its record stands for: it cannot be
  // analysed, so it touches every protected column; the record names the function's OID only.
  static PlannedStatementPtr FunctionCallStatement(protocol::Bytes body);

  // The fields of a result that carry a keyed table's row key, found by table OID and column
  // number through the session's catalog.
  std::vector<AuditKeyField> KeyFields(const SessionState& s, const std::vector<protocol::FieldDescription>& fields) const;

 private:
  AuditService& service_;
  asio::any_io_executor executor_;
  AuditRowKeyHasher hasher_;
};

// How the audit text of `plan`'s SQL is read: whether it parsed, and the session's
// standard_conforming_strings.
AuditTextOptions AuditTextOptionsOf(const SessionState& s, const QueryPlan& plan);

// A session's fields for its records (also before it has a SessionAudit: refused connections).
AuditSessionInfo AuditSessionInfoOf(const SessionState& s);

// A connection pgmask refused before it became a session (`reason` as Session logs it): records
// a connection_refused event. Sessions that were served, and clients that went away, record nothing.
void RecordConnectionEnd(AuditService& service, const SessionState& s, bool reached_ready, std::string_view reason);

// The audit record's `command` for a statement kind: "SELECT", "COPY", "FETCH"...
std::string AuditCommandName(policy::StatementKind kind);

}  // namespace pgmask::proxy
