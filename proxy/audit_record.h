// The audit trail's records: one per statement that touches a protected column, one per security
// event. The session fills these structs; AuditRecordBody turns one into the JSON members that
// the chain (audit_chain.h) wraps with seq, id, proxy, prev and hmac. Nothing here does I/O.
//
// What the caller must guarantee, because the trail may never hold a protected value: `query` is
// already normalized (comments stripped, literals and parameters replaced), `application` went
// through SanitizeApplicationName, and no field carries a value, an error text or SQL from the
// client. Text that is not UTF-8 is replaced by U+FFFD, so every record is valid JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/time/time.h"

namespace pgmask::proxy {

enum class AuditProtocol { kSimple, kExtended, kCopy };
enum class AuditColumnUse { kOutput, kPredicate, kOther };
// allowed: every protected column shown in clear; masked: at least one rewritten; refused: pgmask
// refused the statement (denied column, inference, audit unavailable); failed: PostgreSQL
// answered with an error.
enum class AuditOutcome { kAllowed, kMasked, kRefused, kFailed };

std::string_view AuditProtocolName(AuditProtocol p);
std::string_view AuditColumnUseName(AuditColumnUse u);
std::string_view AuditOutcomeName(AuditOutcome o);

struct AuditTlsInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
};

// Who and from where; the same for every record of a session.
struct AuditSessionInfo {
  std::string session;             // pgmask's session id
  std::string user;                // the authenticated login role
  std::vector<std::string> roles;  // its memberships, transitively
  std::string client;              // "address:port" as pgmask saw it
  std::string application;         // SanitizeApplicationName(application_name)
  std::string database;
  std::optional<AuditTlsInfo> client_tls;    // nullopt: plaintext
  std::optional<AuditTlsInfo> upstream_tls;  // nullopt: plaintext
};

struct AuditColumn {
  std::string column;          // "public.patients.ssn"
  std::string classification;  // "PII"
  AuditColumnUse use = AuditColumnUse::kOutput;
  std::string action;  // "clear", "tokenize", "mask", "null", "deny"
};

// Keyed HMACs of the row keys one statement returned from one table with `key:` in the policy
// (see audit_row_keys.h). At most `cap` distinct keys are listed; `capped` says some were left out.
struct AuditTableKeys {
  std::string table;              // "public.patients"
  std::vector<std::string> hmac;  // distinct, in the order first seen
  uint64_t rows = 0;              // rows that carried a key, listed or not
  uint64_t cap = 0;
  bool capped = false;
};

struct AuditStatement {
  absl::Time time;  // when the statement arrived
  AuditSessionInfo session;
  AuditProtocol protocol = AuditProtocol::kSimple;
  std::string command;      // statement kind: "SELECT", "COPY", "FETCH", ...
  std::string fingerprint;  // libpg_query fingerprint (hex)
  std::string query;        // normalized
  std::vector<AuditColumn> columns;
  std::optional<uint64_t> rows;  // rows sent to the client; nullopt when none was (refused)
  std::vector<AuditTableKeys> keys;
  AuditOutcome outcome = AuditOutcome::kAllowed;
  std::string sqlstate;  // empty: success
  absl::Duration duration = absl::ZeroDuration();
  std::string policy;                       // SHA-256 of the policy in force
  std::optional<std::string> break_glass;   // the reason, while break-glass is active
  // Not written: the statement's output waits for this record, and the statement is refused
  // (kAuditUnavailableSqlstate) when the record cannot be made durable (audit_on_failure block).
  // A sink that writes such a record late writes it as that refusal (AuditRefusedBody).
  bool refused_unless_durable = false;
  // Not in the body: the chain's `id` for this record, drawn by the chain when empty. AuditService
  // sets it when it writes to more than one sink, so the record has one id in every trail.
  std::string id;
};

enum class AuditEventKind {
  kPolicyReload,
  kBreakGlassStart,
  kBreakGlassEnd,
  kAuditDegraded,
  kAuditResumed,
  kConnectionRefused,
  // A statement record made durable in this sink was refused all the same, because another sink
  // could not make its copy durable: `record` is its id, read its outcome as `refused`.
  kRecordCorrected,
};

std::string_view AuditEventKindName(AuditEventKind k);

// A security event. Only the fields that apply are written.
struct AuditEvent {
  AuditEventKind kind = AuditEventKind::kPolicyReload;
  absl::Time time;
  std::optional<AuditSessionInfo> session;  // break-glass, refused connection
  // policy_reload: "ok" | "rejected"; break_glass_end: "expired" | "reset" | "session_end".
  std::string outcome;
  // break_glass_start: the reason given ("INC-123: ..."); connection_refused: a fixed word
  // ("too_many_clients", "auth_failed", ...); audit_degraded: the sink's error.
  std::string reason;
  std::string policy;    // SHA-256 of the policy in force after the event
  std::string sqlstate;  // connection_refused
  std::optional<absl::Time> expires;  // break_glass_start
  // audit_degraded: records waiting; audit_resumed: records written late.
  std::optional<uint64_t> queued;
  std::optional<uint64_t> dropped;  // audit_resumed: records refused while the queue was full
  std::string record;  // record_corrected: the id of the statement record it corrects
};

using AuditRecord = std::variant<AuditStatement, AuditEvent>;

// "2024-05-01T12:00:00.123Z".
std::string FormatAuditTime(absl::Time t);
// Parses FormatAuditTime's form and any RFC 3339 time; false on anything else.
bool ParseAuditTime(std::string_view text, absl::Time& out);

// The record's JSON members without the surrounding braces, starting with "ts" and "type":
//   "ts":"...","type":"statement","session":"...",...
// Fields always appear in the same order; absent optional fields are null (statements) or left
// out (events).
std::string AuditRecordBody(const AuditRecord& record);

// The SQLSTATE of a statement refused because its record could not be made durable: io_error, of
// class 58 (system errors outside PostgreSQL): pgmask could not write to disk or to the audit
// database, which is no lack of privilege; a driver may retry later.
inline constexpr std::string_view kAuditUnavailableSqlstate = "58030";
// The text of that refusal.
inline constexpr std::string_view kAuditBlockedRefusal =
    "pgmask: statement refused: the audit trail cannot record it now (audit_on_failure: block)";

// A statement record's body (AuditRecordBody) as the record of the same statement refused with
// kAuditUnavailableSqlstate: outcome "refused", no rows, no row keys; every other member as it
// was, in its place. The body unchanged when it is not a statement's.
std::string AuditRefusedBody(std::string_view body);

// The record_corrected event for statement record `id`, durable though its statement was refused
// with kAuditUnavailableSqlstate; `reason` says why (a fixed text, never an error's).
AuditEvent AuditRefusalCorrection(std::string id, absl::Time now, std::string reason);

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

// application_name is chosen by the client, so it can carry anything, values included. Kept as
// is when it looks like a program name (at most 64 letters, spaces and . _ - / : ( ) with no digit
// and no @); otherwise replaced by "?" followed by its length, e.g. "?11".
std::string SanitizeApplicationName(std::string_view name);

}  // namespace pgmask::proxy
