#include "proxy/audit_service.h"

#include <mutex>

#include "proxy/audit_chain.h"
#include "proxy/audit_file_sink.h"
#include "proxy/audit_pg_sink.h"
#include "proxy/log.h"

namespace pgmask::proxy {
namespace {

AuditSinkListener ListenerFor(Metrics& metrics, std::string name) {
  AuditSinkListener l;
  l.written = [&metrics](uint64_t n) { metrics.AuditRecordsWritten(n); };
  l.failed = [&metrics](uint64_t n) { metrics.AuditRecordsFailed(n); };
  l.degraded = [&metrics, name](const absl::Status& error) {
    metrics.AuditDegraded(true);
    Logf(LogLevel::kError, "audit %s degraded: %s; protected statements are refused until it recovers", name,
         error.message());
  };
  l.resumed = [&metrics, name] {
    metrics.AuditDegraded(false);
    Logf(LogLevel::kInfo, "audit %s resumed", name);
  };
  return l;
}

// Answers `done` once every sink has answered. A statement that is refused because one sink
// failed may already be durable in another, which cannot take the line back: that sink gets a
// record_corrected naming it.
struct FanOut {
  std::mutex mu;
  size_t waiting = 0;
  absl::Status first_error;
  std::vector<AuditSink*> durable;  // the sinks that answered OK
  AuditSink::Done done;
  std::string refusable_id;  // the statement's id, when an error refuses it

  void Answer(AuditSink* sink, absl::Status s) {
    AuditSink::Done finished;
    absl::Status result;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (s.ok()) {
        durable.push_back(sink);
      } else if (first_error.ok()) {
        first_error = std::move(s);
      }
      if (--waiting > 0) return;
      finished = std::move(done);
      result = first_error;
    }
    if (!result.ok() && !refusable_id.empty()) {
      const AuditRecord correction = AuditRefusalCorrection(
          refusable_id, absl::Now(), "another audit sink could not make the record durable");
      for (AuditSink* other : durable) other->Submit(correction, [](absl::Status) {});
    }
    finished(std::move(result));
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuditService>> AuditService::Open(const ServeConfig& config, Metrics& metrics) {
  if (config.audit_file.empty() && config.audit_dsn.empty()) return nullptr;
  absl::StatusOr<policy::Key> key = LoadAuditKey(config.audit_key_file);
  if (!key.ok()) return key.status();
  std::vector<std::unique_ptr<AuditSink>> sinks;
  if (!config.audit_file.empty()) {
    AuditFileSinkOptions options;
    options.path = config.audit_file;
    options.rotate_bytes = config.audit_rotate_bytes;
    options.listener = ListenerFor(metrics, "file");
    absl::StatusOr<std::unique_ptr<AuditFileSink>> file = AuditFileSink::Open(std::move(options), *key);
    if (!file.ok()) return file.status();
    sinks.push_back(*std::move(file));
  }
  if (!config.audit_dsn.empty()) {
    AuditPgSinkOptions options;
    options.dsn = config.audit_dsn;
    options.listener = ListenerFor(metrics, "database");
    absl::StatusOr<std::unique_ptr<AuditPgSink>> database = AuditPgSink::Open(std::move(options), *key);
    if (!database.ok()) return database.status();
    sinks.push_back(*std::move(database));
  }
  metrics.AuditDegraded(false);
  return std::make_unique<AuditService>(std::move(sinks), *std::move(key), config.audit_on_failure);
}

void AuditService::Submit(const AuditRecord& record, AuditSink::Done done) {
  if (sinks_.size() == 1) {
    sinks_.front()->Submit(record, std::move(done));
    return;
  }
  auto fan = std::make_shared<FanOut>();
  fan->waiting = sinks_.size();
  fan->done = std::move(done);
  // A statement gets one id in every trail, so a correction in one names the record the others
  // hold too.
  const AuditRecord* submitted = &record;
  AuditRecord with_id;
  if (std::holds_alternative<AuditStatement>(record)) {
    with_id = record;
    auto& statement = std::get<AuditStatement>(with_id);
    statement.id = RandomHex(16);
    if (statement.refused_unless_durable) fan->refusable_id = statement.id;
    submitted = &with_id;
  }
  for (const std::unique_ptr<AuditSink>& sink : sinks_) {
    sink->Submit(*submitted, [fan, s = sink.get()](absl::Status status) { fan->Answer(s, std::move(status)); });
  }
}

void AuditService::Record(const AuditRecord& record) {
  Submit(record, [](absl::Status) {});
}

bool AuditService::degraded() const {
  for (const std::unique_ptr<AuditSink>& sink : sinks_) {
    if (sink->Health().degraded) return true;
  }
  return false;
}

absl::Status AuditService::Close() {
  absl::Status result;
  for (const std::unique_ptr<AuditSink>& sink : sinks_) {
    absl::Status s = sink->Close();
    if (!s.ok() && result.ok()) result = std::move(s);
  }
  return result;
}

}  // namespace pgmask::proxy
