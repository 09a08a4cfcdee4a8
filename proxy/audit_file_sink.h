// The audit trail as an append-only JSONL file (--audit-file PATH), hash-chained (audit_chain.h).
//
// One writer thread takes every record submitted since its last write, chains them, writes them
// with one write() and one fsync(), and only then reports them durable: sessions that submit at
// the same time share an fsync (group commit).
//
// Rotation: when PATH reaches `rotate_bytes` a seal (reason "rotate") is written and fsync'd,
// PATH is renamed to PATH.N (N = 1, 2, 3...: higher is newer; a rename never overwrites) and a new
// PATH starts with a file_start record; the chain continues across the files. Close() writes a
// seal with reason "shutdown". Opening an existing trail continues its chain after authenticating
// its last record with the key (a trail written with another key is refused) and writes a start
// record saying whether the previous run sealed it.
//
// Failures (disk full, permission, fsync error) make the sink degraded: the records of the failed
// write, and every record submitted while degraded, get Unavailable at once but stay queued (up
// to `max_queued`), an audit_degraded event is chained after them, and every `retry_interval`
// the sink reopens PATH, cuts it back to its last durable byte and writes the queue again. The
// first write that succeeds ends with an audit_resumed event. Nothing acknowledged is lost and
// nothing is written twice.
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
#include "proxy/audit_fs.h"
#include "proxy/audit_sink.h"

namespace pgmask::proxy {

inline constexpr uint64_t kDefaultAuditRotateBytes = 64ull << 20;

struct AuditFileSinkOptions {
  std::string path;
  std::string proxy;  // the records' "proxy" field; empty: the host name
  uint64_t rotate_bytes = kDefaultAuditRotateBytes;
  size_t max_queued = 100000;
  absl::Duration retry_interval = absl::Seconds(1);
  absl::Duration close_timeout = absl::Seconds(5);  // how long Close retries a failing write
  AuditFileSystem* fs = nullptr;                      // null: the real file system
  AuditSinkListener listener;
};

class AuditFileSink final : public AuditSink {
 public:
  // Opens (or creates) PATH, continues the chain found there and writes a start record durably.
  // Fails when PATH cannot be written or its last record does not authenticate with `key`.
  static absl::StatusOr<std::unique_ptr<AuditFileSink>> Open(AuditFileSinkOptions options,
                                                             const policy::Key& key);

  ~AuditFileSink() override;  // Close()s

  void Submit(const AuditRecord& record, Done done) override;
  absl::Status Close() override;
  AuditSinkHealth Health() const override;

  // PATH.N
  static std::string RotatedPath(const std::string& path, uint64_t n);

  // Test hook: chains `body` as if it were a record's (so tests can write any record shape).
  void SubmitBodyForTest(std::string body, Done done) { SubmitBody(std::move(body), std::move(done)); }

 private:
  struct Inbound {
    std::string body;
    Done done;  // empty when already answered (submitted while degraded)
  };
  struct Pending {
    std::string line;
    Done done;
    bool record = false;     // a submitted record (not one of the chain's own)
    bool late = false;       // already answered with an error
    std::string rotate_to;   // a rotation seal: PATH becomes this after it is durable
  };
  enum class RotateStep { kNone, kRename, kSyncDirectory };

  AuditFileSink(AuditFileSinkOptions options, AuditChain chain);

  void SubmitBody(std::string body, Done done);
  void Run();
  void ChainLine(std::string_view body, Done done, bool record, bool late);
  void ChainRotation();
  absl::Status WritePending();
  absl::Status ContinueRotation();
  absl::Status Reopen();
  void Flush();
  void FailPending(const absl::Status& error);
  void FinishOnClose();

  const AuditFileSinkOptions options_;
  AuditFileSystem& fs_;

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
  int fd_ = -1;
  uint64_t durable_size_ = 0;        // bytes of PATH known to be on disk
  uint64_t chained_file_bytes_ = 0;  // bytes PATH will have once pending_ is written
  uint64_t file_first_seq_ = 0;      // seq of PATH's first record
  uint64_t next_rotation_ = 1;
  RotateStep rotate_step_ = RotateStep::kNone;
  std::string rotate_to_;
  bool fresh_file_ = false;     // PATH must be created (after a rotation)
  bool sync_directory_ = false;  // PATH was created and its directory not yet fsync'd
  uint64_t late_written_ = 0;    // records written late during the current degradation
  bool resumed_chained_ = false;  // the audit_resumed event is queued, not yet written

  std::thread writer_;
};

}  // namespace pgmask::proxy
