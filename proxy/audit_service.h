// The audit sinks `pgmask serve` writes to (--audit-file, and --audit-dsn), seen by sessions as
// one: a record is durable once every sink has made it durable, and fails when any sink fails.
// Also the key the row-key HMACs use and what to do when a record cannot be written.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/key_file.h"
#include "proxy/audit_sink.h"
#include "proxy/metrics.h"
#include "proxy/serve_config.h"

namespace pgmask::proxy {

class AuditService {
 public:
  // Null when neither sink is configured. Fails when the key cannot be read or a sink cannot be
  // opened: pgmask does not start without the trail it was told to keep.
  static absl::StatusOr<std::unique_ptr<AuditService>> Open(const ServeConfig& config, Metrics& metrics);

  AuditService(std::vector<std::unique_ptr<AuditSink>> sinks, policy::Key key, AuditOnFailure on_failure)
      : sinks_(std::move(sinks)), key_(std::move(key)), on_failure_(on_failure) {}

  // Thread-safe. `done` runs once, on a sink's thread or before Submit returns, with OK when
  // every sink made the record durable, else the first error.
  void Submit(const AuditRecord& record, AuditSink::Done done);
  // A record nobody waits for (security events, refusals): failures are counted by the sinks.
  void Record(const AuditRecord& record);

  // Protected statements are refused while the trail cannot be written (audit_on_failure block).
  bool blocks() const { return on_failure_ == AuditOnFailure::kBlock; }
  // Any sink is degraded: a protected statement fails fast instead of waiting for its record.
  bool degraded() const;
  const policy::Key& key() const { return key_; }

  // Seals the trail; call once no session runs.
  absl::Status Close();

 private:
  std::vector<std::unique_ptr<AuditSink>> sinks_;
  policy::Key key_;
  AuditOnFailure on_failure_;
};

}  // namespace pgmask::proxy
