// What the session sees of an audit sink (the file sink, later the PostgreSQL one): hand it a
// record and learn when that record is durable, so protected rows are released only after it.
// Asio-free: `done` runs on the sink's own thread; a coroutine posts it back to its executor.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {

struct AuditSinkHealth {
  bool degraded = false;     // the last write failed; records are queued, Submit fails fast
  absl::Status last_error;   // of the last failed write (OK when never failed)
  uint64_t queued = 0;       // records taken but not yet durable
  uint64_t written = 0;      // records made durable
  uint64_t failed = 0;       // Submit calls answered with an error
  uint64_t dropped = 0;      // records refused because the queue was full
};

// Optional hooks, called from the sink's thread (or Submit's caller); they must not block.
struct AuditSinkListener {
  std::function<void(uint64_t records)> written;  // -> pgmask_audit_records_total
  std::function<void(uint64_t records)> failed;   // -> pgmask_audit_failures_total
  std::function<void(const absl::Status& error)> degraded;
  std::function<void()> resumed;
};

class AuditSink {
 public:
  // Runs exactly once with:
  //   OK                  the record is durable (fsync'd);
  //   Unavailable         it cannot be made durable now; it stays queued and is written, in order,
  //                       when the sink recovers (the caller fails closed meanwhile);
  //   ResourceExhausted   the queue is full; the record was dropped (the next audit_resumed event
  //                       counts it);
  //   FailedPrecondition  the sink is closed.
  using Done = absl::AnyInvocable<void(absl::Status)>;

  virtual ~AuditSink() = default;

  // Thread-safe; never blocks on I/O. `done` may run before Submit returns; it must not call
  // Append or Close (it may run on the sink's thread).
  virtual void Submit(const AuditRecord& record, Done done) = 0;

  // Submit and wait for `done`. Blocks until the record is durable or has failed: call it from a
  // worker thread, never from an event loop.
  absl::Status Append(const AuditRecord& record);

  // Stops taking records, writes what is queued and seals the trail. Not OK when records could
  // not be written (they are lost). Idempotent.
  virtual absl::Status Close() = 0;

  virtual AuditSinkHealth Health() const = 0;
};

}  // namespace pgmask::proxy
