#include "proxy/audit_queued_writer.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {

std::string AuditHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "pgmask";
  return name;
}

AuditQueuedWriter::AuditQueuedWriter(const AuditQueueOptions& options, std::string unavailable,
                                     std::string destination, AuditChain chain)
    : queue_options_(options),
      chain_(std::move(chain)),
      unavailable_(std::move(unavailable)),
      destination_(std::move(destination)) {}

AuditQueuedWriter::~AuditQueuedWriter() {
  // The derived destructor has closed (and so joined the writer thread); this only covers a sink
  // whose writer never started.
  Close().IgnoreError();
}

void AuditQueuedWriter::StartWriter() {
  writer_ = std::thread([this] { Run(); });
}

void AuditQueuedWriter::Submit(const AuditRecord& record, Done done) {
  const auto* statement = std::get_if<AuditStatement>(&record);
  if (statement == nullptr) {
    SubmitBody(AuditRecordBody(record), std::move(done));
    return;
  }
  SubmitBody(AuditRecordBody(record), std::move(done), statement->refused_unless_durable, statement->id);
}

void AuditQueuedWriter::SubmitBody(std::string body, Done done, bool refusable, std::string id) {
  absl::Status answer;
  bool answered = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || closed_) {
      answer = absl::FailedPreconditionError("the audit sink is closed");
      answered = true;
    } else if (health_.queued >= queue_options_.max_queued) {
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
            absl::StrFormat("%s unavailable: %s", unavailable_, ToStd(health_.last_error.message())));
        answered = true;
        inbound_.push_back({std::move(body), nullptr, refusable, std::move(id)});
      } else {
        inbound_.push_back({std::move(body), std::move(done), refusable, std::move(id)});
      }
      // While records wait (NextWriteAt) the writer needs no wake-up for each: Wake() or its
      // deadline brings it back.
      if (next_write_at_ == absl::InfinitePast() || degraded_) cv_.Signal();
    }
  }
  if (!answered) return;
  if (!absl::IsFailedPrecondition(answer) && queue_options_.listener.failed) {
    queue_options_.listener.failed(1);
  }
  done(std::move(answer));
}

AuditSinkHealth AuditQueuedWriter::Health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

absl::Status AuditQueuedWriter::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || stopping_) {
      // Another Close is running or has run; wait for it.
      while (!closed_) closed_cv_.Wait(&mu_);
      return close_status_;
    }
    stopping_ = true;
    cv_.Signal();
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock lock(&mu_);
  closed_ = true;
  closed_cv_.SignalAll();
  return close_status_;
}

void AuditQueuedWriter::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
  cv_.Signal();
}

void AuditQueuedWriter::Run() {
  while (true) {
    std::deque<Inbound> batch;
    bool stopping = false;
    bool write_due = false;
    absl::Status last_error;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && !woken_) {
        if (degraded_) {
          if (!inbound_.empty() || absl::Now() >= next_retry_) break;
          cv_.WaitWithDeadline(&mu_, next_retry_);
        } else if (next_write_at_ == absl::InfinitePast()) {
          if (!inbound_.empty()) break;
          cv_.Wait(&mu_);
        } else if (next_write_at_ == absl::InfiniteFuture()) {
          cv_.Wait(&mu_);
        } else if (absl::Now() >= next_write_at_) {
          break;
        } else {
          cv_.WaitWithDeadline(&mu_, next_write_at_);
        }
      }
      woken_ = false;
      next_write_at_ = absl::InfinitePast();
      batch.swap(inbound_);
      stopping = stopping_;
      write_due = !degraded_ || absl::Now() >= next_retry_;
      last_error = health_.last_error;
    }
    for (Inbound& in : batch) {
      const bool late = !in.done;
      ChainLine(in.body, std::move(in.done), /*record=*/true, late, in.refusable, std::move(in.id));
    }
    if (stopping) {
      FinishOnClose();
      return;
    }
    if (write_due) {
      Flush();
      const absl::Time next = NextWriteAt();
      absl::MutexLock lock(&mu_);
      if (!degraded_ && !woken_) next_write_at_ = next;
    } else {
      FailPending(last_error);  // records that raced with the failure: answer them now
    }
  }
}

AuditQueuedWriter::Pending AuditQueuedWriter::Chain(std::string_view body, std::string id) {
  Pending p;
  p.line = chain_.Append(body, &p.body_begin, id);
  p.id = std::move(id);
  p.body_size = body.size();
  p.seq = chain_.head().seq;
  return p;
}

absl::StatusOr<AuditLine> AuditQueuedWriter::Parse(const Pending& p) {
  std::string_view line = p.line;
  line.remove_suffix(1);  // '\n'
  return ParseAuditLine(line);
}

void AuditQueuedWriter::ChainLine(std::string_view body, Done done, bool record, bool late, bool refusable,
                                  std::string id) {
  Pending p = Chain(body, std::move(id));
  p.done = std::move(done);
  p.record = record;
  p.late = late;
  p.refusable = refusable;
  pending_.push_back(std::move(p));
  Chained(pending_.back());
}

absl::Status AuditQueuedWriter::RewriteRefused() {
  bool refused = false;
  for (const Pending& p : pending_) refused |= p.refusable && p.late;
  if (!refused) return absl::OkStatus();
  absl::StatusOr<size_t> durable = DurableFront();
  if (!durable.ok()) return durable.status();
  // Lines durable though their answer was lost stay as they are; each refused statement among
  // them gets a correction, chained before the lines that follow them.
  std::vector<std::string> corrected;
  for (size_t i = 0; i < *durable; ++i) {
    const Pending& p = pending_[i];
    if (!p.refusable || !p.late) continue;
    absl::StatusOr<AuditLine> parsed = Parse(p);
    const boost::json::value* id = parsed.ok() ? parsed->fields.if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) return absl::InternalError("a queued audit line has no id");
    corrected.emplace_back(id->get_string());
  }
  Acknowledge(*durable);
  std::deque<Pending> lines;
  if (!pending_.empty()) {
    absl::StatusOr<AuditLine> front = Parse(pending_.front());
    if (!front.ok()) return front.status();
    lines.swap(pending_);
    chain_.set_head({front->seq - 1, front->prev});
    Rechaining(lines);
  }
  for (std::string& id : corrected) {
    const AuditRecord correction = AuditRefusalCorrection(
        std::move(id), absl::Now(), "its statement was refused before the record was known to be durable");
    ChainLine(AuditRecordBody(correction), nullptr, /*record=*/false, /*late=*/false);
  }
  for (Pending& p : lines) {
    const std::string_view body(p.line.data() + p.body_begin, p.body_size);
    if (p.refusable && p.late) {
      ChainLine(AuditRefusedBody(body), std::move(p.done), p.record, p.late, false, std::move(p.id));
    } else {
      ChainLine(body, std::move(p.done), p.record, p.late, p.refusable, std::move(p.id));
    }
    // A full queue is chained again line by line: the old line goes as its new one comes.
    std::string().swap(p.line);
  }
  return absl::OkStatus();
}

void AuditQueuedWriter::Acknowledge(size_t count) {
  std::vector<Done> done;
  uint64_t records = 0;
  for (size_t i = 0; i < count; ++i) {
    Pending& p = pending_.front();
    if (p.record) {
      ++records;
      if (p.late) ++late_written_;
    }
    if (p.done) done.push_back(std::move(p.done));
    pending_.pop_front();
  }
  {
    absl::MutexLock lock(&mu_);
    health_.written += records;
    health_.queued -= records;
  }
  if (records > 0 && queue_options_.listener.written) queue_options_.listener.written(records);
  for (Done& d : done) d(absl::OkStatus());
}

void AuditQueuedWriter::FailPending(const absl::Status& error) {
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
  if (queue_options_.listener.failed) queue_options_.listener.failed(done.size());
  const absl::Status answer =
      absl::UnavailableError(absl::StrFormat("audit record not durable: %s", ToStd(error.message())));
  for (Done& d : done) d(answer);
}

bool AuditQueuedWriter::Degraded() const {
  absl::MutexLock lock(&mu_);
  return degraded_;
}

void AuditQueuedWriter::Flush() {
  const bool degraded = Degraded();
  // While degraded, a retry is only a success once everything queued is durable.
  absl::Status s = degraded ? RewriteRefused() : absl::OkStatus();
  if (s.ok()) s = WritePending(/*wait=*/degraded);
  if (s.ok()) {
    if (!degraded) return;
    uint64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      dropped = dropped_since_resume_;
    }
    if (!resumed_chained_) {
      AuditEvent resumed;
      resumed.kind = AuditEventKind::kAuditResumed;
      resumed.time = absl::Now();
      resumed.queued = late_written_;
      resumed.dropped = dropped;
      ChainLine(AuditRecordBody(resumed), nullptr, /*record=*/false, /*late=*/false);
      resumed_chained_ = true;
    }
    s = WritePending(/*wait=*/true);
    if (s.ok()) {
      resumed_chained_ = false;
      late_written_ = 0;
      if (queue_options_.listener.resumed) queue_options_.listener.resumed();
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
    next_retry_ = absl::Now() + queue_options_.retry_interval;
  }
  if (first) {
    uint64_t waiting = 0;
    for (const Pending& p : pending_) waiting += p.record;
    AuditEvent event;
    event.kind = AuditEventKind::kAuditDegraded;
    event.time = absl::Now();
    event.reason = std::string(ToStd(s.message()));
    event.queued = waiting;
    ChainLine(AuditRecordBody(event), nullptr, /*record=*/false, /*late=*/false);
    if (queue_options_.listener.degraded) queue_options_.listener.degraded(s);
  }
  FailPending(s);
}

void AuditQueuedWriter::FinishOnClose() {
  // Closed before a retry came: the refusals are rewritten once, before the seal names the head.
  // If that fails too, the writes below are likely to fail with it.
  if (Degraded()) RewriteRefused().IgnoreError();
  // The seal is the trail's last line, so it skips Chained: a rotation it set off would follow it.
  pending_.push_back(Chain(SealBody(absl::Now())));
  const absl::Time deadline = absl::Now() + queue_options_.close_timeout;
  absl::Status s;
  while (true) {
    s = WritePending(/*wait=*/true);
    if (s.ok()) break;
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    absl::SleepFor(std::min(queue_options_.retry_interval, deadline - now));
  }
  Closing();
  absl::Status result;
  if (!s.ok()) {
    uint64_t lost = 0;
    for (const Pending& p : pending_) lost += p.record;
    FailPending(s);
    result = absl::DataLossError(
        absl::StrFormat("%d audit records and the closing seal could not be written to %s: %s", lost,
                        destination_, ToStd(s.message())));
  }
  absl::MutexLock lock(&mu_);
  close_status_ = result;
  closed_ = true;
  closed_cv_.SignalAll();
}

}  // namespace pgmask::proxy
