#include "proxy/session_audit.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "proxy/audit_statement_text.h"
#include "proxy/metrics.h"
#include "proxy/session_state.h"

namespace pgmask::proxy {

using policy::StatementKind;

std::string AuditCommandName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kCopyTo:
    case StatementKind::kCopyFrom:
      return "COPY";
    case StatementKind::kDeclareCursor:
      return "DECLARE CURSOR";
    case StatementKind::kCreateTableAs:
      return "CREATE TABLE AS";
    case StatementKind::kClosePortal:
      return "CLOSE";
    default:
      break;
  }
  std::string name(policy::StatementKindName(kind));
  std::replace(name.begin(), name.end(), '-', ' ');
  absl::AsciiStrToUpper(&name);
  return name;
}

void RecordConnectionEnd(AuditService& service, const SessionState& s, bool reached_ready, std::string_view reason) {
  const std::optional<RefusedConnection> refused = ClassifySessionEnd(reached_ready, reason);
  if (!refused) return;
  AuditEvent e;
  e.kind = AuditEventKind::kConnectionRefused;
  e.time = absl::Now();
  e.session = AuditSessionInfoOf(s);
  // The policy's refusals of a restricted role at startup (a replication connection, settings
  // that change how SQL reads) are counted as protocol violations by the metrics; the trail
  // says what they are.
  const bool policy_refusal =
      reason.starts_with("startup refused") || reason.find("replication refused") != std::string_view::npos;
  e.reason = policy_refusal ? std::string("policy") : std::string(RefusedConnectionLabel(*refused));
  service.Record(e);
}

std::unique_ptr<SessionAudit> SessionAudit::Create(AuditService& service, asio::any_io_executor executor) {
  absl::StatusOr<AuditRowKeyHasher> hasher = AuditRowKeyHasher::Create(service.key());
  if (!hasher.ok()) return nullptr;
  return std::make_unique<SessionAudit>(service, std::move(executor), *std::move(hasher));
}

AuditSessionInfo AuditSessionInfoOf(const SessionState& s) {
  AuditSessionInfo info;
  info.session = s.id;
  info.user = s.user;
  info.roles = s.catalog.roles;
  info.client = s.client;
  info.application = s.application;
  info.database = s.database;
  if (!s.tls_version.empty()) info.client_tls = AuditTlsInfo{s.tls_version, s.tls_cipher};
  return info;
}

AuditTextOptions AuditTextOptionsOf(const SessionState& s, const QueryPlan& plan) {
  AuditTextOptions options;
  options.parsed = !plan.unparsable;
  // Set while the session's standard_conforming_strings is anything but on.
  options.standard_strings = s.quoting_refusal.empty();
  return options;
}

QueryPlanPtr SessionAudit::WithTexts(const QueryPlanPtr& plan, std::string_view sql, const AuditTextOptions& options) {
  if (plan == nullptr) return plan;
  bool recorded = false;
  for (const PlannedStatementPtr& st : plan->statements) recorded = recorded || st->MayBeRecorded();
  if (!recorded) return plan;
  const std::vector<AuditStatementText> texts = AuditStatementTexts(sql, options);
  // The scanner's split and the parser's should agree; if not, each statement is recorded with
  // the whole message's text rather than another statement's.
  std::shared_ptr<const AuditStatementText> whole;
  if (texts.size() != plan->statements.size()) {
    AuditStatementText t;
    t.query = AuditQueryText(sql, options);
    whole = std::make_shared<const AuditStatementText>(std::move(t));
  }
  auto copy = std::make_shared<QueryPlan>(*plan);
  for (size_t i = 0; i < copy->statements.size(); ++i) {
    if (!copy->statements[i]->MayBeRecorded()) continue;
    auto annotated = std::make_shared<PlannedStatement>(*copy->statements[i]);
    annotated->audit_text = whole != nullptr ? whole : std::make_shared<const AuditStatementText>(texts[i]);
    copy->statements[i] = std::move(annotated);
  }
  return copy;
}

AuditStatement SessionAudit::StatementRecord(const SessionState& s, const PlannedStatement& own,
                                             const PlannedStatement& source, AuditProtocol protocol,
                                             absl::Time start) const {
  AuditStatement r;
  r.time = start;
  r.session = AuditSessionInfoOf(s);
  r.protocol = protocol;
  r.command = own.audit_text != nullptr && !own.audit_text->command.empty() ? own.audit_text->command
                                                                            : AuditCommandName(own.kind);
  if (own.audit_text != nullptr) {
    r.query = own.audit_text->query;
    r.fingerprint = own.audit_text->fingerprint;
  }
  if (s.catalog.policy != nullptr && s.actions.has_value()) {
    AuditColumnRefs refs = source.audit_columns;
    for (const AuditColumnRef& ref : own.audit_columns.refs) {
      if (std::find(refs.refs.begin(), refs.refs.end(), ref) == refs.refs.end()) refs.refs.push_back(ref);
    }
    refs.everything = refs.everything || own.audit_columns.everything;
    r.columns = AuditColumnsFor(refs, *s.catalog.policy, *s.actions);
    r.policy = s.catalog.policy->sha256_hex();
  }
  if (s.break_glass.has_value()) r.break_glass = s.break_glass->reason;
  // Columns only filtered on or written to are not shown, so they mask nothing.
  r.outcome = AuditOutcome::kAllowed;
  for (const AuditColumn& c : r.columns) {
    if (c.use == AuditColumnUse::kOutput && c.action != "clear") r.outcome = AuditOutcome::kMasked;
  }
  return r;
}

void SessionAudit::RecordRefusal(const SessionState& s, const QueryPlan& plan, std::string_view sql,
                                 AuditProtocol protocol, std::string_view sqlstate) {
  // The statement whose refusal stands for the message; the first when the message as a whole
  // was refused (it does not parse, or the session reads SQL differently).
  size_t index = 0;
  for (size_t i = 0; i < plan.statements.size(); ++i) {
    if (plan.statements[i]->decision.refusal) {
      index = i;
      break;
    }
  }
  const AuditTextOptions options = AuditTextOptionsOf(s, plan);
  const std::vector<AuditStatementText> texts = AuditStatementTexts(sql, options);
  PlannedStatement own;
  if (index < plan.statements.size()) own = *plan.statements[index];
  AuditStatementText text;
  if (texts.size() == plan.statements.size() && index < texts.size()) {
    text = texts[index];
  } else {
    text.query = AuditQueryText(sql, options);
  }
  own.audit_text = std::make_shared<const AuditStatementText>(std::move(text));
  RecordRefused(s, own, protocol, sqlstate);
}

void SessionAudit::RecordRefused(const SessionState& s, const PlannedStatement& own, const PlannedStatement& source,
                                 AuditProtocol protocol, std::string_view sqlstate) {
  AuditStatement r = StatementRecord(s, own, source, protocol, absl::Now());
  r.outcome = AuditOutcome::kRefused;
  r.sqlstate = std::string(sqlstate);
  service_.Record(r);
}

PlannedStatementPtr SessionAudit::FunctionCallStatement(protocol::Bytes body) {
  // The function's OID, never its arguments; a body too short for one is recorded as OID 0.
  uint32_t oid = 0;
  if (body.size() >= 4) {
    oid = (static_cast<uint32_t>(body[0]) << 24) | (static_cast<uint32_t>(body[1]) << 16) |
          (static_cast<uint32_t>(body[2]) << 8) | static_cast<uint32_t>(body[3]);
  }
  // Any function may read any column: recorded as touching every protected column.
  auto st = std::make_shared<PlannedStatement>(*PlannedStatement::Untraceable());
  AuditStatementText text;
  text.query = absl::StrFormat("<function oid %u>", oid);
  text.command = "FUNCTION CALL";
  st->audit_text = std::make_shared<const AuditStatementText>(std::move(text));
  return st;
}

std::vector<AuditKeyField> SessionAudit::KeyFields(const SessionState& s,
                                                   const std::vector<protocol::FieldDescription>& fields) const {
  std::vector<AuditKeyField> out;
  if (s.catalog.policy == nullptr || s.catalog.view == nullptr) return out;
  const policy::Policy& policy = *s.catalog.policy;
  for (size_t i = 0; i < fields.size(); ++i) {
    const protocol::FieldDescription& f = fields[i];
    if (f.table_oid == 0 || f.column <= 0) continue;
    // The catalog knows a table's OID through its protected columns; the key column itself is
    // found by name among the relation's columns.
    for (const auto& [location, id] : s.catalog.columns) {
      if (static_cast<uint32_t>(location >> 16) != f.table_oid) continue;
      const policy::TableRule& table = policy.tables()[id.table_index];
      if (!table.key.has_value()) break;
      const policy::CatalogRelation* relation = s.catalog.view->Find(table.schema, table.name);
      if (relation == nullptr) break;
      for (const policy::CatalogColumn& c : relation->columns) {
        if (c.name == *table.key && c.attnum == f.column) {
          out.push_back({i, absl::StrFormat("%s.%s", table.schema, table.name)});
        }
      }
      break;
    }
  }
  return out;
}

}  // namespace pgmask::proxy
