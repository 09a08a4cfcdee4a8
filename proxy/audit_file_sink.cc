#include "proxy/audit_file_sink.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Sibling(const std::string& path, const std::string& name) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? name : path.substr(0, slash + 1) + name;
}

// The rotation number of `name` when it is `base`.N, else 0.
uint64_t RotationNumber(std::string_view name, std::string_view base) {
  if (name.size() <= base.size() + 1 || !name.starts_with(base) || name[base.size()] != '.') return 0;
  const std::string_view digits = name.substr(base.size() + 1);
  if (digits.size() > 18) return 0;
  for (const char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
  }
  uint64_t n = 0;
  return absl::SimpleAtoi(ToAbsl(digits), &n) ? n : 0;
}

std::string StringField(const AuditLine& line, std::string_view name) {
  const boost::json::value* v = line.fields.if_contains(boost::json::string_view(name.data(), name.size()));
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool IsSeal(const AuditLine& line, std::string_view reason) {
  return line.type == "seal" && StringField(line, "reason") == reason;
}

// The complete lines of a file: everything up to its last '\n'.
struct FileLines {
  uint64_t complete = 0;   // bytes up to and including the last '\n'
  uint64_t discarded = 0;  // bytes after it (an incomplete line)
  std::string_view first;
  std::string_view last;
  size_t count = 0;
};

FileLines SplitLines(std::string_view content) {
  FileLines out;
  const size_t end = content.rfind('\n');
  if (end == std::string_view::npos) {
    out.discarded = content.size();
    return out;
  }
  out.complete = end + 1;
  out.discarded = content.size() - out.complete;
  const std::string_view body = content.substr(0, end);
  out.first = body.substr(0, body.find('\n'));
  const size_t before_last = body.rfind('\n');
  out.last = before_last == std::string_view::npos ? body : body.substr(before_last + 1);
  for (const char c : body) out.count += c == '\n';
  ++out.count;
  return out;
}

}  // namespace

std::string AuditFileSink::RotatedPath(const std::string& path, uint64_t n) {
  return absl::StrFormat("%s.%d", path, n);
}

AuditFileSink::AuditFileSink(AuditFileSinkOptions options, AuditChain chain)
    : AuditQueuedWriter(options, "audit trail", options.path, std::move(chain)),
      options_(std::move(options)),
      fs_(options_.fs != nullptr ? *options_.fs : PosixAuditFileSystem()) {
  absl::MutexLock lock(&sync_mu_);
  slots_.resize(options_.syncs_in_flight);
  slot_changed_.resize(options_.syncs_in_flight);
}

absl::StatusOr<std::unique_ptr<AuditFileSink>> AuditFileSink::Open(AuditFileSinkOptions options,
                                                                   const policy::Key& key) {
  if (options.path.empty()) return absl::InvalidArgumentError("the audit file path is empty");
  if (options.proxy.empty()) options.proxy = AuditHostName();
  if (options.max_queued == 0) options.max_queued = 1;
  if (options.syncs_in_flight == 0) options.syncs_in_flight = 1;
  absl::StatusOr<AuditChain> chain = AuditChain::Create(key, options.proxy);
  if (!chain.ok()) return chain.status();
  std::unique_ptr<AuditFileSink> sink(new AuditFileSink(std::move(options), *std::move(chain)));
  AuditFileSystem& fs = sink->fs_;
  const std::string& path = sink->options_.path;
  const std::string base = Basename(path);

  absl::StatusOr<std::vector<std::string>> names = fs.ListDirectoryOf(path);
  if (!names.ok()) return names.status();
  uint64_t newest_rotation = 0;
  for (const std::string& name : *names) newest_rotation = std::max(newest_rotation, RotationNumber(name, base));
  sink->next_rotation_ = newest_rotation + 1;

  absl::StatusOr<std::string> content = fs.ReadFile(path);
  if (!content.ok() && !absl::IsNotFound(content.status())) return content.status();
  const std::string text = content.ok() ? *std::move(content) : std::string();
  const FileLines lines = SplitLines(text);

  // Authenticates the last complete line of `file`, which continues the chain.
  auto last_record = [&](const std::string& file, const FileLines& l) -> absl::StatusOr<AuditLine> {
    absl::StatusOr<AuditLine> last = ParseAuditLine(l.last);
    if (!last.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s:%d: the last line is not an audit record (%s); run pgmask audit verify, then move "
          "the file away",
          file, l.count, ToStd(last.status().message())));
    }
    if (!sink->chain_.Authentic(*last)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s:%d: the last audit record (seq %d) does not authenticate with this audit key: a "
          "different key, or a changed file; run pgmask audit verify",
          file, l.count, last->seq));
    }
    return last;
  };

  std::string previous = "new";
  std::optional<std::string> previous_file;  // a file_start goes first
  uint64_t keep = lines.complete;            // bytes of PATH to keep
  uint64_t discarded = lines.discarded;
  if (lines.complete > 0) {
    absl::StatusOr<AuditLine> last = last_record(path, lines);
    if (!last.ok()) return last.status();
    sink->chain_.set_head({last->seq, last->hmac});
    previous = IsSeal(*last, "shutdown") || IsSeal(*last, "rotate") ? "sealed" : "unsealed";
    absl::StatusOr<AuditLine> first = ParseAuditLine(lines.first);
    sink->file_first_seq_ = first.ok() ? first->seq : last->seq;
    if (IsSeal(*last, "rotate")) {
      // Stopped between sealing PATH and renaming it: finish the rotation.
      std::string target = StringField(*last, "file");
      if (RotationNumber(target, base) == 0) target = Basename(RotatedPath(path, sink->next_rotation_));
      sink->next_rotation_ = std::max(sink->next_rotation_, RotationNumber(target, base) + 1);
      absl::StatusOr<int> fd = fs.OpenAppend(path, false);
      if (!fd.ok()) return fd.status();
      absl::Status s = discarded > 0 ? fs.Truncate(*fd, keep) : absl::OkStatus();
      fs.Close(*fd);
      if (s.ok()) s = fs.Rename(path, Sibling(path, target));
      if (s.ok()) s = fs.SyncDirectoryOf(path);
      if (!s.ok()) return s;
      previous_file = target;
      keep = 0;
    }
  } else if (newest_rotation > 0) {
    // PATH is new or empty: the chain continues from the newest rotated file.
    const std::string rotated = RotatedPath(path, newest_rotation);
    absl::StatusOr<std::string> old = fs.ReadFile(rotated);
    if (!old.ok()) return old.status();
    const FileLines old_lines = SplitLines(*old);
    if (old_lines.complete == 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: holds no audit record to continue the chain from", rotated));
    }
    absl::StatusOr<AuditLine> last = last_record(rotated, old_lines);
    if (!last.ok()) return last.status();
    sink->chain_.set_head({last->seq, last->hmac});
    previous = IsSeal(*last, "shutdown") || IsSeal(*last, "rotate") ? "sealed" : "unsealed";
    previous_file = Basename(rotated);
  }
  if (keep == 0) sink->file_first_seq_ = sink->chain_.head().seq + 1;

  const absl::Time now = absl::Now();
  std::string start;
  if (previous_file.has_value()) start += sink->chain_.Append(AuditFileStartBody(now, *previous_file, sink->chain_.head()));
  start += sink->chain_.Append(AuditStartBody(now, previous, discarded));

  absl::StatusOr<int> fd = fs.OpenAppend(path, false);
  if (!fd.ok()) return fd.status();
  sink->fd_ = *fd;
  absl::StatusOr<uint64_t> size = fs.Size(sink->fd_);
  absl::Status s = size.status();
  if (s.ok() && *size != keep) s = fs.Truncate(sink->fd_, keep);
  if (s.ok()) s = fs.Write(sink->fd_, start);
  if (s.ok()) s = fs.DataSync(sink->fd_);
  if (s.ok() && keep == 0) s = fs.SyncDirectoryOf(path);
  if (s.ok()) s = sink->OpenSyncDescriptors();
  if (!s.ok()) return s;  // the destructor closes the descriptors
  sink->durable_size_ = keep + start.size();
  sink->SetWrittenSize(sink->durable_size_);
  sink->chained_file_bytes_ = sink->durable_size_;
  for (size_t i = 0; i < sink->options_.syncs_in_flight; ++i) {
    sink->syncers_.emplace_back([raw = sink.get(), i] { raw->SyncLoop(i); });
  }
  sink->StartWriter();
  return sink;
}

AuditFileSink::~AuditFileSink() {
  Close().IgnoreError();
  CloseFile();
  {
    absl::MutexLock lock(&sync_mu_);
    sync_stop_ = true;
    for (absl::CondVar& cv : slot_changed_) cv.Signal();
  }
  for (std::thread& t : syncers_) t.join();
}

std::string AuditFileSink::SealBody(absl::Time now) {
  return AuditSealBody(now, AuditSealReason::kShutdown, Basename(options_.path), file_first_seq_,
                       chain_.head());
}

void AuditFileSink::Chained(const Pending& line) {
  chained_file_bytes_ += line.line.size();
  if (chained_file_bytes_ >= options_.rotate_bytes) ChainRotation();
}

void AuditFileSink::ChainRotation() {
  const std::string target = RotatedPath(options_.path, next_rotation_++);
  const absl::Time now = absl::Now();
  Pending seal = Chain(AuditSealBody(now, AuditSealReason::kRotate, Basename(target), file_first_seq_,
                                     chain_.head()));
  seal.rotate_to = target;
  pending_.push_back(std::move(seal));
  file_first_seq_ = chain_.head().seq + 1;
  Pending start = Chain(AuditFileStartBody(now, Basename(target), chain_.head()));
  chained_file_bytes_ = start.line.size();
  pending_.push_back(std::move(start));
}

void AuditFileSink::Rechaining(std::deque<Pending>& lines) {
  // Nothing of `lines` is written (a failed write abandons what it wrote): PATH holds
  // durable_size_ bytes, or, with its rotation under way, is about to start afresh.
  chained_file_bytes_ = rotate_step_ == RotateStep::kNone ? durable_size_ : 0;
  std::deque<Pending> kept;
  bool first_seal = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rotate_to.empty()) {
      kept.push_back(std::move(lines[i]));
      continue;
    }
    // A rotation seal and the file_start ChainRotation queued after it: Chained queues them again
    // where the new sizes say, under the same names.
    if (first_seal) {
      absl::StatusOr<AuditLine> seal = Parse(lines[i]);
      const boost::json::value* first = seal.ok() ? seal->fields.if_contains("first_seq") : nullptr;
      boost::system::error_code ec;
      const uint64_t seq = first != nullptr ? first->to_number<uint64_t>(ec) : 0;
      if (first != nullptr && !ec) file_first_seq_ = seq;
      first_seal = false;
    }
    --next_rotation_;
    ++i;
  }
  lines.swap(kept);
}

void AuditFileSink::SyncLoop(size_t i) {
  while (true) {
    int fd = -1;
    {
      absl::MutexLock lock(&sync_mu_);
      while (!sync_stop_ && slots_[i].state != SyncState::kAsked) slot_changed_[i].Wait(&sync_mu_);
      if (slots_[i].state != SyncState::kAsked) return;  // stopping
      // Start when no other sync runs, or once the youngest has run overlap_syncs_after.
      const auto alone = [this, i]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
        if (sync_stop_ || slots_[i].state != SyncState::kAsked) return true;
        for (const SyncSlot& slot : slots_) {
          if (slot.state == SyncState::kRunning) return false;
        }
        return true;
      };
      const absl::Time deadline = last_start_ + options_.overlap_syncs_after;
      while (!alone() && absl::Now() < deadline) slot_changed_[i].WaitWithDeadline(&sync_mu_, deadline);
      if (slots_[i].state != SyncState::kAsked) continue;  // the file was closed meanwhile
      slots_[i].state = SyncState::kRunning;
      slots_[i].target = syncable_size_;
      started_to_ = std::max(started_to_, syncable_size_);
      last_start_ = absl::Now();
      fd = slots_[i].fd;
    }
    absl::Status s = fs_.DataSync(fd);
    {
      absl::MutexLock lock(&sync_mu_);
      slots_[i].result = std::move(s);
      slots_[i].state = SyncState::kFinished;
      SignalAsked();
      sync_finished_.SignalAll();
    }
    Wake();
  }
}

void AuditFileSink::SignalAsked() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == SyncState::kAsked) slot_changed_[i].Signal();
  }
}

absl::Time AuditFileSink::NextWriteAt() {
  absl::MutexLock lock(&sync_mu_);
  bool idle = false;
  bool asked = false;
  bool running = false;
  for (const SyncSlot& slot : slots_) {
    idle |= slot.state == SyncState::kIdle;
    asked |= slot.state == SyncState::kAsked;
    running |= slot.state == SyncState::kRunning;
  }
  // Every slot busy: the first to finish Wake()s the writer.
  if (!idle) return absl::InfiniteFuture();
  // The asked sync starts about now; another may overlap it from overlap_syncs_after on.
  if (asked) return absl::Now() + options_.overlap_syncs_after;
  // Written but not yet asked for: Dispatch waits for sync_spacing.
  if (written_size_ > started_to_) return last_start_ + options_.sync_spacing;
  if (!running) {
    // Nothing in flight: records are taken as they come (a finished sync has Woken the writer).
    return absl::InfinitePast();
  }
  // A sync is running: what arrives waits for it to return, or for the time another may
  // overlap it.
  const absl::Time overlap = last_start_ + options_.overlap_syncs_after;
  return absl::Now() < overlap ? overlap : absl::InfinitePast();
}

absl::Status AuditFileSink::OpenSyncDescriptors() {
  absl::MutexLock lock(&sync_mu_);
  for (SyncSlot& slot : slots_) {
    absl::StatusOr<int> fd = fs_.OpenAgain(fd_);
    if (!fd.ok()) return fd.status();  // CloseFile closes those already open
    slot.fd = *fd;
  }
  return absl::OkStatus();
}

void AuditFileSink::CloseFile() {
  {
    absl::MutexLock lock(&sync_mu_);
    const auto none_running = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
      for (const SyncSlot& slot : slots_) {
        if (slot.state == SyncState::kRunning) return false;
      }
      return true;
    };
    while (!none_running()) sync_finished_.Wait(&sync_mu_);
    // An asked slot waits to start; told, it sees its reset. The idle ones need no wake-up:
    // waking them on a busy machine delays this thread for milliseconds.
    SignalAsked();
    for (SyncSlot& slot : slots_) {
      if (slot.fd >= 0) fs_.Close(slot.fd);
      slot.fd = -1;
      // A sync asked for is not started; a result not collected no longer counts.
      slot.state = SyncState::kIdle;
      slot.result = absl::OkStatus();
    }
    sync_finished_.SignalAll();
  }
  if (fd_ >= 0) {
    fs_.Close(fd_);
    fd_ = -1;
  }
}

void AuditFileSink::Abandon() {
  // What is written but not known durable may be partly on disk, or dropped by a failed
  // writeback: Reopen cuts PATH back to durable_size_ and it is all written again.
  CloseFile();
  written_ = 0;
  SetWrittenSize(durable_size_);
  seal_written_ = false;
}

void AuditFileSink::Closing() { CloseFile(); }

absl::Status AuditFileSink::ContinueRotation() {
  CloseFile();
  if (rotate_step_ == RotateStep::kRename) {
    absl::Status s = fs_.Rename(options_.path, rotate_to_);
    if (!s.ok()) return s;
    rotate_step_ = RotateStep::kSyncDirectory;
  }
  if (rotate_step_ == RotateStep::kSyncDirectory) {
    absl::Status s = fs_.SyncDirectoryOf(options_.path);
    if (!s.ok()) return s;
    rotate_step_ = RotateStep::kNone;
    durable_size_ = 0;
    SetWrittenSize(0);
    fresh_file_ = true;
  }
  return absl::OkStatus();
}

absl::Status AuditFileSink::Reopen() {
  absl::StatusOr<int> fd = fs_.OpenAppend(options_.path, fresh_file_);
  if (!fd.ok()) return fd.status();
  if (fresh_file_) {
    fresh_file_ = false;
    sync_directory_ = true;
  }
  absl::Status s;
  absl::StatusOr<uint64_t> size = fs_.Size(*fd);
  if (!size.ok()) {
    s = size.status();
  } else if (*size < durable_size_) {
    s = absl::DataLossError(absl::StrFormat(
        "%s is shorter than what pgmask made durable in it (%d < %d bytes): it was truncated or "
        "replaced",
        options_.path, *size, durable_size_));
  } else if (*size > durable_size_) {
    // The tail of a write that failed or was never synced: never acknowledged, written again.
    s = fs_.Truncate(*fd, durable_size_);
  }
  if (s.ok() && sync_directory_) {
    s = fs_.SyncDirectoryOf(options_.path);
    if (s.ok()) sync_directory_ = false;
  }
  if (!s.ok()) {
    fs_.Close(*fd);
    return s;
  }
  fd_ = *fd;
  SetWrittenSize(durable_size_);
  s = OpenSyncDescriptors();
  if (!s.ok()) CloseFile();
  return s;
}

absl::Status AuditFileSink::WriteUnwritten() {
  // Everything not yet written, up to and including the next rotation seal, in one write.
  std::string buffer;
  size_t count = 0;
  bool seal = false;
  for (size_t i = written_; i < pending_.size(); ++i) {
    buffer += pending_[i].line;
    ++count;
    if (!pending_[i].rotate_to.empty()) {
      seal = true;
      break;
    }
  }
  absl::Status s = fs_.Write(fd_, buffer);
  if (!s.ok()) return s;
  written_ += count;
  seal_written_ = seal;
  written_size_ += buffer.size();
  absl::MutexLock lock(&sync_mu_);
  syncable_size_ = written_size_;
  return absl::OkStatus();
}

void AuditFileSink::SetWrittenSize(uint64_t size) {
  written_size_ = size;
  absl::MutexLock lock(&sync_mu_);
  syncable_size_ = size;
  started_to_ = size;  // nothing beyond is covered by a sync
}

void AuditFileSink::Dispatch(bool spaced) {
  absl::MutexLock lock(&sync_mu_);
  if (written_size_ <= started_to_) return;  // a running sync covers it
  // Too soon after the last start: the writer comes back then (NextWriteAt).
  if (spaced && absl::Now() < last_start_ + options_.sync_spacing) return;
  SyncSlot* idle = nullptr;
  for (SyncSlot& slot : slots_) {
    if (slot.state == SyncState::kAsked) return;  // it will cover it when it starts
    if (slot.state == SyncState::kIdle && idle == nullptr) idle = &slot;
  }
  // With every sync thread busy, the next one to finish takes it (WritePending runs on Wake).
  if (idle != nullptr) {
    idle->state = SyncState::kAsked;
    slot_changed_[idle - slots_.data()].Signal();
  }
}

absl::Status AuditFileSink::Collect(bool block) {
  uint64_t durable = durable_size_;
  absl::Status failed;
  {
    absl::MutexLock lock(&sync_mu_);
    if (block) {
      const auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
        bool busy = false;
        for (const SyncSlot& slot : slots_) {
          if (slot.state == SyncState::kFinished) return true;
          busy |= slot.state != SyncState::kIdle;
        }
        return !busy;
      };
      while (!finished()) sync_finished_.Wait(&sync_mu_);
    }
    for (SyncSlot& slot : slots_) {
      if (slot.state != SyncState::kFinished) continue;
      if (!slot.result.ok()) {
        if (failed.ok()) failed = slot.result;
      } else {
        durable = std::max(durable, slot.target);
      }
      slot.state = SyncState::kIdle;
      slot.result = absl::OkStatus();
    }
  }
  if (!failed.ok()) {
    // Syncs that returned with it, or are still running, are not trusted either.
    Abandon();
    return failed;
  }
  size_t count = 0;
  uint64_t end = durable_size_;
  while (count < written_ && end + pending_[count].line.size() <= durable) {
    end += pending_[count].line.size();
    ++count;
  }
  if (count == 0) return absl::OkStatus();
  const Pending& last = pending_[count - 1];
  if (!last.rotate_to.empty()) {
    // The seal is durable: PATH can be renamed.
    rotate_to_ = last.rotate_to;
    rotate_step_ = RotateStep::kRename;
    seal_written_ = false;
  }
  durable_size_ = end;
  written_ -= count;
  Acknowledge(count);
  return absl::OkStatus();
}

absl::Status AuditFileSink::WritePending(bool wait) {
  while (true) {
    if (absl::Status s = Collect(/*block=*/false); !s.ok()) return s;
    if (rotate_step_ != RotateStep::kNone) {
      if (absl::Status s = ContinueRotation(); !s.ok()) return s;
    }
    if (pending_.empty()) return absl::OkStatus();
    if (!seal_written_ && written_ < pending_.size()) {
      if (fd_ < 0) {
        if (absl::Status s = Reopen(); !s.ok()) return s;
      }
      if (absl::Status s = WriteUnwritten(); !s.ok()) {
        Abandon();
        return s;
      }
    }
    // Whoever waits below is not kept waiting for the spacing.
    const bool waits = wait || seal_written_;
    Dispatch(/*spaced=*/!waits);
    // A written rotation seal is waited for, so what follows it can go to the next file.
    if (!waits) return absl::OkStatus();
    if (absl::Status s = Collect(/*block=*/true); !s.ok()) return s;
  }
}

}  // namespace pgmask::proxy
