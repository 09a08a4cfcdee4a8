// The audit trail in a PostgreSQL database apart from the application's (--audit-dsn), through
// libpq on a thread of its own. Records are chained exactly as in the file (audit_chain.h), one
// row per line:
//   pgmask_audit(proxy text, seq bigint, ts timestamptz, type text, line text,
//                PRIMARY KEY (proxy, seq))
// created if missing; `line` is the chained JSON line, so the HMACs verify as they do in a file.
// Every record submitted since the last insert goes into one INSERT (one transaction, one
// commit): sessions share commits as they share syncs in the file sink. A record is durable when
// its transaction has committed.
//
// Failures (the database down, a lost connection) make the sink degraded (audit_queued_writer.h):
// the records concerned get Unavailable at once and stay queued (up to `max_queued`), an
// audit_degraded event follows them, and every `retry_interval` the sink reconnects and inserts
// the queue again (ON CONFLICT DO NOTHING: a batch whose commit was lost with the connection is
// not written twice); the first success ends with audit_resumed. Close() inserts a seal.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "policy/key_file.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_queued_writer.h"
#include "proxy/audit_reader.h"

struct pg_conn;

namespace pgmask::proxy {

// max_queued, retry_interval, close_timeout and listener: audit_queued_writer.h.
struct AuditPgSinkOptions : AuditQueueOptions {
  std::string dsn;
  std::string proxy;  // the records' "proxy" field and the rows' key; empty: the host name
};

class AuditPgSink final : public AuditQueuedWriter {
 public:
  // Connects, creates the table if missing, continues this proxy's chain after authenticating
  // its last row with `key`, and inserts a start record. Fails when any of that fails.
  static absl::StatusOr<std::unique_ptr<AuditPgSink>> Open(AuditPgSinkOptions options, const policy::Key& key);

  ~AuditPgSink() override;

 private:
  AuditPgSink(AuditPgSinkOptions options, AuditChain chain);

  absl::Status Connect();
  absl::Status Insert(const std::string& lines);
  absl::Status WritePending(bool wait) override;
  absl::StatusOr<size_t> DurableFront() override;
  std::string SealBody(absl::Time now) override;

  const AuditPgSinkOptions options_;
  // The writer thread's own state.
  pg_conn* conn_ = nullptr;
  uint64_t first_seq_ = 0;  // of this run, for the closing seal
};

// Every line of the audit table at `dsn`, per proxy in seq order: (proxy, lines joined by '\n').
absl::StatusOr<AuditTexts> ReadAuditTable(const std::string& dsn);

}  // namespace pgmask::proxy
