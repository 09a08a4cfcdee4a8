// The audit trail in a PostgreSQL database apart from the application's (--audit-dsn), through
// libpq on a thread of its own. Records are chained exactly as in the file (audit_chain.h), one
// row per line:
//   pgmask_audit(proxy text, seq bigint, ts timestamptz, type text, line text,
//                PRIMARY KEY (proxy, seq))
// created if missing; `line` is the chained JSON line, so the HMACs verify as they do in a file.
// Every record submitted since the last insert goes into one INSERT (one transaction, one
// commit): sessions share commits as they share fsyncs in the file sink. A record is durable when
// its transaction has committed.
//
// Failures (the database down, a lost connection) make the sink degraded, as the file sink: the
// records concerned get Unavailable at once and stay queued (up to `max_queued`), an
// audit_degraded event follows them, and every `retry_interval` the sink reconnects and inserts
// the queue again (ON CONFLICT DO NOTHING: a batch whose commit was lost with the connection is
// not written twice); the first success ends with audit_resumed. Close() inserts a seal.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "policy/key_file.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_reader.h"
#include "proxy/audit_sink.h"

struct pg_conn;

namespace pgmask::proxy {

struct AuditPgSinkOptions {
  std::string dsn;
  std::string proxy;  // the records' "proxy" field and the rows' key; empty: the host name
  size_t max_queued = 100000;
  absl::Duration retry_interval = absl::Seconds(1);
  absl::Duration close_timeout = absl::Seconds(5);
  AuditSinkListener listener;
};

class AuditPgSink final : public AuditSink {
 public:
  // Connects, creates the table if missing, continues this proxy's chain after authenticating
  // its last row with `key`, and inserts a start record. Fails when any of that fails.
  static absl::StatusOr<std::unique_ptr<AuditPgSink>> Open(AuditPgSinkOptions options, const policy::Key& key);

  ~AuditPgSink() override;

  void Submit(const AuditRecord& record, Done done) override;
  absl::Status Close() override;
  AuditSinkHealth Health() const override;

 private:
  struct Inbound {
    std::string body;
    Done done;  // empty when already answered (submitted while degraded)
  };
  struct Pending {
    std::string line;  // without its '\n'
    Done done;
    bool record = false;  // a submitted record (not the sink's own)
    bool late = false;    // already answered with an error
  };

  AuditPgSink(AuditPgSinkOptions options, AuditChain chain);

  absl::Status Connect();
  absl::Status Insert(const std::string& lines);
  void Run();
  void Chain(std::string_view body, Done done, bool record, bool late);
  absl::Status WritePending();
  void Flush();
  void FailPending(const absl::Status& error);
  void FinishOnClose();

  const AuditPgSinkOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Inbound> inbound_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool degraded_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_retry_ ABSL_GUARDED_BY(mu_);
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  AuditSinkHealth health_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_since_resume_ ABSL_GUARDED_BY(mu_) = 0;

  // The writer thread's own state.
  AuditChain chain_;
  std::deque<Pending> pending_;
  pg_conn* conn_ = nullptr;
  uint64_t first_seq_ = 0;  // of this run, for the closing seal
  uint64_t late_written_ = 0;
  bool resumed_chained_ = false;

  std::thread writer_;
};

// Every line of the audit table at `dsn`, per proxy in seq order: (proxy, lines joined by '\n').
absl::StatusOr<AuditTexts> ReadAuditTable(const std::string& dsn);

}  // namespace pgmask::proxy
