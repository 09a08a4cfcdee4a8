// The audit trail as an append-only JSONL file (--audit-file PATH), hash-chained (audit_chain.h).
//
// One writer thread (audit_queued_writer.h) takes every record submitted since its last write,
// chains them and appends them with one write(); then one of `syncs_in_flight` sync threads
// fdatasyncs PATH, and the records are reported durable only once a sync that started after their
// write has returned. What arrives while a sync runs waits (without waking the writer for each
// record) and is written and covered by the next sync, which starts when the running one returns
// or once it has run `overlap_syncs_after`, so up to `syncs_in_flight` fdatasyncs overlap (each
// through its own descriptor of PATH, so each one reports every writeback error); sessions that
// submit at the same time share one (group commit). Syncs start at least `sync_spacing` apart,
// so under load each covers more records. bench/audit_durability.cc
// measures why: on the virtual disk the bench runs on, a lone fdatasync at times waits for a 4 ms
// timer tick whatever the method (fsync, fdatasync, preallocated or not, O_DSYNC), while
// overlapping ones return in well under a millisecond. Where syncs are fast, none runs 1 ms and
// this is plain group commit.
//
// Rotation: when PATH reaches `rotate_bytes` a seal (reason "rotate") is written and made durable,
// PATH is renamed to PATH.N (N = 1, 2, 3...: higher is newer; a rename never overwrites) and a new
// PATH starts with a file_start record; the chain continues across the files. Close() writes a
// seal with reason "shutdown". Opening an existing trail continues its chain after authenticating
// its last record with the key (a trail written with another key is refused) and writes a start
// record saying whether the previous run sealed it.
//
// Failures (disk full, permission, fdatasync error) make the sink degraded (audit_queued_writer.h):
// the records not yet durable, and every record submitted while degraded, get Unavailable at once
// but stay queued (up to `max_queued`), an audit_degraded event is chained after them, and every
// `retry_interval` the sink reopens PATH, cuts it back to its last durable byte and writes the
// queue again. The first write that succeeds ends with an audit_resumed event. Nothing
// acknowledged is lost and nothing is written twice.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "policy/key_file.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_fs.h"
#include "proxy/audit_queued_writer.h"

namespace pgmask::proxy {

inline constexpr uint64_t kDefaultAuditRotateBytes = 64ull << 20;

// max_queued, retry_interval, close_timeout and listener: audit_queued_writer.h.
struct AuditFileSinkOptions : AuditQueueOptions {
  std::string path;
  std::string proxy;  // the records' "proxy" field; empty: the host name
  uint64_t rotate_bytes = kDefaultAuditRotateBytes;
  // fdatasyncs of PATH that may run at once; 1 is plain group commit (one sync after another).
  size_t syncs_in_flight = 4;
  // While a sync runs, the next one starts when it returns or once it has run this long,
  // whichever comes first (the records written meanwhile share that next sync).
  absl::Duration overlap_syncs_after = absl::Milliseconds(1);
  // A sync starts no sooner than this after the previous one started. Under load, syncs that
  // return quickly would otherwise run back to back for a few records each, and every one costs
  // CPU (a virtual disk's flush: tens of µs); spaced, each covers more. A lone record (no sync
  // started this recently) is not delayed.
  absl::Duration sync_spacing = absl::Microseconds(300);
  AuditFileSystem* fs = nullptr;  // null: the real file system
};

class AuditFileSink final : public AuditQueuedWriter {
 public:
  // Opens (or creates) PATH, continues the chain found there and writes a start record durably.
  // Fails when PATH cannot be written or its last record does not authenticate with `key`.
  static absl::StatusOr<std::unique_ptr<AuditFileSink>> Open(AuditFileSinkOptions options,
                                                             const policy::Key& key);

  ~AuditFileSink() override;  // Close()s

  // PATH.N
  static std::string RotatedPath(const std::string& path, uint64_t n);

  // Test hook: chains `body` as if it were a record's (so tests can write any record shape).
  void SubmitBodyForTest(std::string body, Done done) { SubmitBody(std::move(body), std::move(done)); }

 private:
  enum class RotateStep { kNone, kRename, kSyncDirectory };
  // kAsked: the writer wants a sync; the slot starts it when no other runs, or after
  // overlap_syncs_after.
  enum class SyncState { kIdle, kAsked, kRunning, kFinished };
  // One sync thread's work: fdatasync of PATH through its own descriptor.
  struct SyncSlot {
    int fd = -1;
    SyncState state = SyncState::kIdle;
    uint64_t target = 0;  // bytes of PATH written when the sync started: what it makes durable
    absl::Status result;  // when kFinished
  };

  AuditFileSink(AuditFileSinkOptions options, AuditChain chain);

  absl::Status WritePending(bool wait) override;
  absl::Time NextWriteAt() override;
  std::string SealBody(absl::Time now) override;
  void Chained(const Pending& line) override;
  void Closing() override;
  void Rechaining(std::deque<Pending>& lines) override;

  void ChainRotation();
  absl::Status WriteUnwritten();
  void SetWrittenSize(uint64_t size);
  // Asks an idle slot for a sync covering what is written; `spaced`: not before sync_spacing.
  void Dispatch(bool spaced);
  absl::Status Collect(bool block);
  void Abandon();
  void CloseFile();
  absl::Status OpenSyncDescriptors();
  absl::Status ContinueRotation();
  absl::Status Reopen();
  void SyncLoop(size_t slot);
  // Wakes the sync threads whose slot is asked (a sync finished or the slots were reset).
  void SignalAsked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);

  const AuditFileSinkOptions options_;
  AuditFileSystem& fs_;

  absl::Mutex sync_mu_;
  // Each sync thread waits on its own slot's condition (asked, another sync finished, reset,
  // stop) and the writer on `sync_finished_` (a slot finished or was reset), so that a change
  // wakes only who it concerns. (Waits are CondVar loops, not Await: the ThreadSanitizer build
  // sees only what proxy/tsan_absl_mutex.cc wraps, and Await's conditions run on whichever
  // thread unlocks.)
  std::deque<absl::CondVar> slot_changed_;
  absl::CondVar sync_finished_;
  std::vector<SyncSlot> slots_ ABSL_GUARDED_BY(sync_mu_);
  uint64_t syncable_size_ ABSL_GUARDED_BY(sync_mu_) = 0;  // written_size_, for the sync threads
  uint64_t started_to_ ABSL_GUARDED_BY(sync_mu_) = 0;     // the highest target of a started sync
  absl::Time last_start_ ABSL_GUARDED_BY(sync_mu_);       // of the youngest sync
  bool sync_stop_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::vector<std::thread> syncers_;

  // The writer thread's own state. pending_'s first `written_` entries are in PATH between
  // durable_size_ and written_size_, waiting for a sync; the rest are not written yet.
  int fd_ = -1;
  uint64_t durable_size_ = 0;        // bytes of PATH known to be on disk
  uint64_t written_size_ = 0;        // bytes of PATH written, durable or not
  size_t written_ = 0;
  bool seal_written_ = false;        // a rotation seal is written: nothing more until it is renamed
  uint64_t chained_file_bytes_ = 0;  // bytes PATH will have once pending_ is written
  uint64_t file_first_seq_ = 0;      // seq of PATH's first record
  uint64_t next_rotation_ = 1;
  RotateStep rotate_step_ = RotateStep::kNone;
  std::string rotate_to_;
  bool fresh_file_ = false;     // PATH must be created (after a rotation)
  bool sync_directory_ = false;  // PATH was created and its directory not yet fsync'd
};

}  // namespace pgmask::proxy
