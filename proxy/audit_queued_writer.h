// What both audit sinks (audit_file_sink.h, audit_pg_sink.h) share: the inbound queue Submit
// fills, the writer thread that takes everything queued since it last looked, chains it
// (audit_chain.h) and has the sink write it, the answer to each record once the sink reports it
// durable, and what happens when writing fails:
//   - degraded: the records of the failed write, and every record submitted while degraded, are
//     answered Unavailable at once but stay queued (up to `max_queued`; beyond that a record is
//     dropped, answered ResourceExhausted and counted), and an audit_degraded event is chained
//     after them;
//   - every `retry_interval` the writer has the sink write the queue again; the first write that
//     succeeds is followed by an audit_resumed event (records written late, records dropped);
//   - a record answered Unavailable whose statement was refused for it
//     (AuditStatement::refused_unless_durable) is written as that refusal (AuditRefusedBody): before
//     a retry, every line not yet durable is chained again from the last durable one;
//   - Close() chains the sink's seal and retries writing it for up to `close_timeout`.
// Nothing answered OK is lost, and nothing is written twice, as long as the sink's WritePending
// keeps its side: report durable exactly what is, and on failure leave the destination so that
// writing pending_ again from its front appends it once.
//
// A sink derives from it, implements WritePending and SealBody, calls StartWriter() once it is
// open and Close() in its own destructor (the writer thread calls into the derived class).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_sink.h"

namespace pgmask::proxy {

struct AuditQueueOptions {
  size_t max_queued = 100000;
  absl::Duration retry_interval = absl::Seconds(1);
  absl::Duration close_timeout = absl::Seconds(5);  // how long Close retries a failing write
  AuditSinkListener listener;
};

// The records' "proxy" field when none is configured: the host name.
std::string AuditHostName();

class AuditQueuedWriter : public AuditSink {
 public:
  ~AuditQueuedWriter() override;

  void Submit(const AuditRecord& record, Done done) final;
  absl::Status Close() final;
  AuditSinkHealth Health() const final;

 protected:
  // A chained line on its way to being durable; pending_ holds them in chain order.
  struct Pending {
    std::string line;       // '\n' included
    uint64_t seq = 0;
    size_t body_begin = 0;  // the body chained into `line`
    size_t body_size = 0;
    Done done;              // empty once answered, or for the chain's own records
    bool record = false;    // a submitted record (not one of the chain's own)
    bool late = false;      // already answered with an error
    bool refusable = false;  // its statement is refused when it is answered with an error
    std::string id;          // the id it was given (AuditStatement::id); empty: the chain's own
    std::string rotate_to;  // the file sink's rotation seal: PATH becomes this once it is durable
  };

  // `unavailable` starts the answer while degraded ("audit trail" -> "audit trail unavailable:
  // <error>"); `destination` ends Close's data-loss message ("... could not be written to <it>").
  AuditQueuedWriter(const AuditQueueOptions& options, std::string unavailable, std::string destination,
                    AuditChain chain);

  void StartWriter();
  void SubmitBody(std::string body, Done done, bool refusable = false, std::string id = {});

  // Chains `body` as the next record and queues its line.
  void ChainLine(std::string_view body, Done done, bool record, bool late, bool refusable = false,
                 std::string id = {});
  // Chains `body` as the next line, for a Pending the caller queues; `id` as in AuditChain::Append.
  Pending Chain(std::string_view body, std::string id = {});
  // A queued line parsed back (structure only), for the rare paths that chain lines again.
  static absl::StatusOr<AuditLine> Parse(const Pending& p);

  // The sink's part, all on the writer thread.
  // Writes pending_ from its front and calls Acknowledge for what is durable. With `wait` (while
  // degraded and on Close), returns OK only once all of pending_ is durable; without it, it may
  // return with writes in flight, and calls Wake() when there is more to acknowledge.
  virtual absl::Status WritePending(bool wait) = 0;
  // The body of the seal Close chains last.
  virtual std::string SealBody(absl::Time now) = 0;
  // After each line ChainLine queued (the file sink chains a rotation here).
  virtual void Chained(const Pending& line) {}
  // After Close's last write, successful or not: release the file or the connection.
  virtual void Closing() {}
  // Before pending_ is chained again (while degraded, nothing of it in flight): how many of its
  // first lines are durable all the same (a commit whose answer was lost), ...
  virtual absl::StatusOr<size_t> DurableFront() { return 0; }
  // ... and, once those are acknowledged, the rest: the sink drops the lines it chains itself
  // (Chained) and goes back to its state before them.
  virtual void Rechaining(std::deque<Pending>& lines) {}
  // After each write: when to write next. InfinitePast: as soon as a record comes; a time: then,
  // with whatever came meanwhile, records or not; InfiniteFuture: on Wake(). Records that wait
  // share one write instead of waking the writer one by one (the file sink waits for a running
  // sync to return, for the time another may overlap it, or for sync_spacing).
  virtual absl::Time NextWriteAt() { return absl::InfinitePast(); }

  // The first `count` entries of pending_ are durable: answers them OK and drops them.
  void Acknowledge(size_t count);
  // From any thread: run WritePending again soon (something in flight finished).
  void Wake();

  const AuditQueueOptions queue_options_;
  // The writer thread's own state.
  AuditChain chain_;
  std::deque<Pending> pending_;

 private:
  struct Inbound {
    std::string body;
    Done done;  // empty when already answered (submitted while degraded)
    bool refusable = false;
    std::string id;
  };

  void Run();
  bool Degraded() const;
  void Flush();
  absl::Status RewriteRefused();
  void FailPending(const absl::Status& error);
  void FinishOnClose();

  const std::string unavailable_;
  const std::string destination_;

  // Waits are CondVar loops, not Await: the ThreadSanitizer build sees only what
  // proxy/tsan_absl_mutex.cc wraps, and Await's conditions run on whichever thread unlocks.
  mutable absl::Mutex mu_;
  absl::CondVar cv_;         // to the writer: records, a wake-up, or stop
  absl::CondVar closed_cv_;  // closed_ became true
  std::deque<Inbound> inbound_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  // NextWriteAt's answer after the last write; reset by Wake().
  absl::Time next_write_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool degraded_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_retry_ ABSL_GUARDED_BY(mu_);
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  AuditSinkHealth health_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_since_resume_ ABSL_GUARDED_BY(mu_) = 0;

  uint64_t late_written_ = 0;     // records written late during the current degradation
  bool resumed_chained_ = false;  // the audit_resumed event is queued, not yet written

  std::thread writer_;
};

}  // namespace pgmask::proxy
