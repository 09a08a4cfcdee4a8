#include "proxy/audit_file_sink.h"

#include <unistd.h>

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

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "pgmask";
  return name;
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
    : options_(std::move(options)),
      fs_(options_.fs != nullptr ? *options_.fs : PosixAuditFileSystem()),
      chain_(std::move(chain)) {}

absl::StatusOr<std::unique_ptr<AuditFileSink>> AuditFileSink::Open(AuditFileSinkOptions options,
                                                                   const policy::Key& key) {
  if (options.path.empty()) return absl::InvalidArgumentError("the audit file path is empty");
  if (options.proxy.empty()) options.proxy = HostName();
  if (options.max_queued == 0) options.max_queued = 1;
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
  if (s.ok()) s = fs.Fsync(sink->fd_);
  if (s.ok() && keep == 0) s = fs.SyncDirectoryOf(path);
  if (!s.ok()) return s;  // the destructor closes fd_
  sink->durable_size_ = keep + start.size();
  sink->chained_file_bytes_ = sink->durable_size_;
  sink->writer_ = std::thread([raw = sink.get()] { raw->Run(); });
  return sink;
}

AuditFileSink::~AuditFileSink() {
  Close().IgnoreError();
  if (fd_ >= 0) fs_.Close(fd_);
}

void AuditFileSink::Submit(const AuditRecord& record, Done done) {
  SubmitBody(AuditRecordBody(record), std::move(done));
}

void AuditFileSink::SubmitBody(std::string body, Done done) {
  absl::Status answer;
  bool answered = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || closed_) {
      answer = absl::FailedPreconditionError("the audit sink is closed");
      answered = true;
    } else if (health_.queued >= options_.max_queued) {
      ++health_.dropped;
      ++health_.failed;
      ++dropped_since_resume_;
      answer = absl::ResourceExhaustedError(absl::StrFormat(
          "the audit queue is full (%d records not yet written); record dropped", health_.queued));
      answered = true;
    } else {
      ++health_.queued;
      if (degraded_) {
        ++health_.failed;
        answer = absl::UnavailableError(
            absl::StrFormat("audit trail unavailable: %s", ToStd(health_.last_error.message())));
        answered = true;
        inbound_.push_back({std::move(body), nullptr});
      } else {
        inbound_.push_back({std::move(body), std::move(done)});
      }
      cv_.Signal();
    }
  }
  if (!answered) return;
  if (!absl::IsFailedPrecondition(answer) && options_.listener.failed) options_.listener.failed(1);
  done(std::move(answer));
}

AuditSinkHealth AuditFileSink::Health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

absl::Status AuditFileSink::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || stopping_) {
      // Another Close is running or has run; wait for it.
      mu_.Await(absl::Condition(&closed_));
      return close_status_;
    }
    stopping_ = true;
    cv_.Signal();
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock lock(&mu_);
  closed_ = true;
  return close_status_;
}

void AuditFileSink::Run() {
  while (true) {
    std::deque<Inbound> batch;
    bool stopping = false;
    bool write_due = false;
    bool degraded = false;
    absl::Status last_error;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && inbound_.empty()) {
        if (!degraded_) {
          cv_.Wait(&mu_);
        } else if (absl::Now() >= next_retry_) {
          break;
        } else {
          cv_.WaitWithDeadline(&mu_, next_retry_);
        }
      }
      batch.swap(inbound_);
      stopping = stopping_;
      degraded = degraded_;
      write_due = !degraded_ || absl::Now() >= next_retry_;
      last_error = health_.last_error;
    }
    for (Inbound& in : batch) {
      const bool late = !in.done;
      ChainLine(in.body, std::move(in.done), /*record=*/true, late);
    }
    if (stopping) {
      FinishOnClose();
      return;
    }
    if (write_due) {
      if (degraded || !pending_.empty() || rotate_step_ != RotateStep::kNone) Flush();
    } else {
      FailPending(last_error);  // records that raced with the failure: answer them now
    }
  }
}

void AuditFileSink::ChainLine(std::string_view body, Done done, bool record, bool late) {
  Pending p;
  p.line = chain_.Append(body);
  p.done = std::move(done);
  p.record = record;
  p.late = late;
  chained_file_bytes_ += p.line.size();
  pending_.push_back(std::move(p));
  if (chained_file_bytes_ >= options_.rotate_bytes) ChainRotation();
}

void AuditFileSink::ChainRotation() {
  const std::string target = RotatedPath(options_.path, next_rotation_++);
  const absl::Time now = absl::Now();
  Pending seal;
  seal.line = chain_.Append(AuditSealBody(now, AuditSealReason::kRotate, Basename(target),
                                          file_first_seq_, chain_.head()));
  seal.rotate_to = target;
  pending_.push_back(std::move(seal));
  file_first_seq_ = chain_.head().seq + 1;
  Pending start;
  start.line = chain_.Append(AuditFileStartBody(now, Basename(target), chain_.head()));
  chained_file_bytes_ = start.line.size();
  pending_.push_back(std::move(start));
}

absl::Status AuditFileSink::ContinueRotation() {
  if (fd_ >= 0) {
    fs_.Close(fd_);
    fd_ = -1;
  }
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
    // The tail of a write that failed: never acknowledged, written again below.
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
  return absl::OkStatus();
}

absl::Status AuditFileSink::WritePending() {
  while (true) {
    if (rotate_step_ != RotateStep::kNone) {
      absl::Status s = ContinueRotation();
      if (!s.ok()) return s;
    }
    if (pending_.empty()) return absl::OkStatus();
    if (fd_ < 0) {
      absl::Status s = Reopen();
      if (!s.ok()) return s;
    }
    // Everything up to and including the next rotation seal, in one write and one fsync.
    std::string buffer;
    size_t count = 0;
    bool seal = false;
    for (const Pending& p : pending_) {
      buffer += p.line;
      ++count;
      if (!p.rotate_to.empty()) {
        seal = true;
        break;
      }
    }
    absl::Status s = fs_.Write(fd_, buffer);
    if (s.ok()) s = fs_.Fsync(fd_);
    if (!s.ok()) {
      // The file may hold part of the buffer, or pages fsync dropped: reopen and cut back to
      // the last durable byte before trying again.
      fs_.Close(fd_);
      fd_ = -1;
      return s;
    }
    durable_size_ += buffer.size();
    std::vector<Done> done;
    uint64_t records = 0;
    for (size_t i = 0; i < count; ++i) {
      Pending& p = pending_.front();
      if (p.record) {
        ++records;
        if (p.late) ++late_written_;
      }
      if (p.done) done.push_back(std::move(p.done));
      if (seal && i + 1 == count) {
        rotate_to_ = p.rotate_to;
        rotate_step_ = RotateStep::kRename;
      }
      pending_.pop_front();
    }
    {
      absl::MutexLock lock(&mu_);
      health_.written += records;
      health_.queued -= records;
    }
    if (records > 0 && options_.listener.written) options_.listener.written(records);
    for (Done& d : done) d(absl::OkStatus());
  }
}

void AuditFileSink::FailPending(const absl::Status& error) {
  std::vector<Done> done;
  for (Pending& p : pending_) {
    if (!p.done) continue;
    done.push_back(std::move(p.done));
    p.done = nullptr;
    p.late = p.record;
  }
  if (done.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    health_.failed += done.size();
  }
  if (options_.listener.failed) options_.listener.failed(done.size());
  const absl::Status answer = absl::UnavailableError(
      absl::StrFormat("audit record not durable: %s", ToStd(error.message())));
  for (Done& d : done) d(answer);
}

void AuditFileSink::Flush() {
  absl::Status s = WritePending();
  if (s.ok()) {
    bool degraded = false;
    uint64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      degraded = degraded_;
      dropped = dropped_since_resume_;
    }
    if (!degraded) return;
    if (!resumed_chained_) {
      AuditEvent resumed;
      resumed.kind = AuditEventKind::kAuditResumed;
      resumed.time = absl::Now();
      resumed.queued = late_written_;
      resumed.dropped = dropped;
      ChainLine(AuditRecordBody(resumed), nullptr, /*record=*/false, /*late=*/false);
      resumed_chained_ = true;
    }
    s = WritePending();
    if (s.ok()) {
      resumed_chained_ = false;
      late_written_ = 0;
      if (options_.listener.resumed) options_.listener.resumed();
      absl::MutexLock lock(&mu_);
      degraded_ = false;
      health_.degraded = false;
      dropped_since_resume_ -= dropped;
      return;
    }
  }
  // Degraded before anyone hears of the failure, so whoever does sees the sink degraded.
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !degraded_;
    degraded_ = true;
    health_.degraded = true;
    health_.last_error = s;
    next_retry_ = absl::Now() + options_.retry_interval;
  }
  if (first) {
    uint64_t waiting = 0;
    for (const Pending& p : pending_) waiting += p.record;
    AuditEvent degraded;
    degraded.kind = AuditEventKind::kAuditDegraded;
    degraded.time = absl::Now();
    degraded.reason = std::string(ToStd(s.message()));
    degraded.queued = waiting;
    ChainLine(AuditRecordBody(degraded), nullptr, /*record=*/false, /*late=*/false);
    if (options_.listener.degraded) options_.listener.degraded(s);
  }
  FailPending(s);
}

void AuditFileSink::FinishOnClose() {
  ChainLine(AuditSealBody(absl::Now(), AuditSealReason::kShutdown, Basename(options_.path),
                          file_first_seq_, chain_.head()),
            nullptr, /*record=*/false, /*late=*/false);
  const absl::Time deadline = absl::Now() + options_.close_timeout;
  absl::Status s;
  while (true) {
    s = WritePending();
    if (s.ok()) break;
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    absl::SleepFor(std::min(options_.retry_interval, deadline - now));
  }
  if (fd_ >= 0) {
    fs_.Close(fd_);
    fd_ = -1;
  }
  absl::Status result;
  if (!s.ok()) {
    uint64_t lost = 0;
    for (const Pending& p : pending_) lost += p.record;
    FailPending(s);
    result = absl::DataLossError(absl::StrFormat(
        "%d audit records and the closing seal could not be written to %s: %s", lost,
        options_.path, ToStd(s.message())));
  }
  absl::MutexLock lock(&mu_);
  close_status_ = result;
  closed_ = true;
}

}  // namespace pgmask::proxy
