// Prometheus metrics of one pgmask process. Every family and every fixed-label series is created
// once, when ProxyState is built; sessions increment through the pointers below, never by a label
// lookup per message. Label values are fixed words or names from the policy file (classification
// and mask function names); never SQL text, values, role or user names.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "policy/policy.h"

namespace pgmask::proxy {

struct ProxyState;

// Why a connection ended before its session was ready for queries (the `reason` label of
// pgmask_connections_refused_total).
enum class RefusedConnection {
  kTooManyClients,
  kShutdown,
  kProtocolViolation,
  kUpstreamUnreachable,
  kStartupTimeout,
  kAuthFailed,
  kCatalogUnavailable,
  kCount,
};
std::string_view RefusedConnectionLabel(RefusedConnection reason);

// Why pgmask refused a statement (the `reason` label of pgmask_statements_refused_total).
enum class StatementRefusal {
  kStatement,     // the analysis refused the statement before PostgreSQL ran it
  kDeniedResult,  // the RowDescription showed a `deny` column the analysis missed (the backstop)
  kAuditUnavailable,  // its audit record could not be made durable (audit_on_failure block)
  kCount,
};
std::string_view StatementRefusalLabel(StatementRefusal reason);

// Maps how a session ended (its phase and the reason text it logs) to a refusal reason. Sessions
// that were served, cancel requests and clients that simply went away are not refusals.
std::optional<RefusedConnection> ClassifySessionEnd(bool reached_ready, std::string_view reason);

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Statements (see README "Metrics" for the exact definitions).
  void StatementCompleted(bool masked) { (masked ? statements_masked_ : statements_clear_)->Increment(); }
  void StatementRefused(StatementRefusal reason) {
    statements_refused_->Increment();
    statements_refused_by_reason_[static_cast<size_t>(reason)]->Increment();
  }
  // Called once per connection when it ends.
  void SessionEnded(bool reached_ready, std::string_view reason);
  void ConnectionAccepted() { connections_total_->Increment(); }

  // The counter of cells masked for one classification and mask function. Takes a lock: callers
  // cache the pointer (one per masker), never look it up per row.
  prometheus::Counter* CellsMasked(std::string_view classification, std::string_view mask_function);

  // Audit records durably written, or that could not be; whether an audit sink is degraded
  // (records queued, protected statements refused under audit_on_failure block).
  void AuditRecordsWritten(uint64_t n) { audit_records_->Increment(static_cast<double>(n)); }
  void AuditRecordsFailed(uint64_t n) { audit_failures_->Increment(static_cast<double>(n)); }
  void AuditDegraded(bool degraded) { audit_degraded_->Set(degraded ? 1 : 0); }

  prometheus::Histogram* statement_overhead() { return statement_overhead_; }

  // Brings the gauges and the counters read from shared state up to date, then renders every
  // family in the Prometheus text format (0.0.4).
  std::string Scrape(const ProxyState& state);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* connections_active_;
  prometheus::Counter* connections_total_;
  std::array<prometheus::Counter*, static_cast<size_t>(RefusedConnection::kCount)> connections_refused_{};
  prometheus::Counter* upstream_connect_errors_;
  prometheus::Counter* statements_clear_;
  prometheus::Counter* statements_masked_;
  prometheus::Counter* statements_refused_;
  std::array<prometheus::Counter*, static_cast<size_t>(StatementRefusal::kCount)> statements_refused_by_reason_{};
  prometheus::Family<prometheus::Counter>* cells_masked_;
  prometheus::Counter* audit_records_;
  prometheus::Counter* audit_failures_;
  prometheus::Gauge* audit_degraded_;
  prometheus::Counter* policy_reloads_ok_;
  prometheus::Counter* policy_reloads_rejected_;
  prometheus::Family<prometheus::Gauge>* policy_info_;
  prometheus::Gauge* policy_generation_;
  prometheus::Histogram* statement_overhead_;

  absl::Mutex scrape_mutex_;
  std::string policy_sha256_ ABSL_GUARDED_BY(scrape_mutex_);
  prometheus::Gauge* policy_info_series_ ABSL_GUARDED_BY(scrape_mutex_) = nullptr;
  uint64_t reloads_ok_seen_ ABSL_GUARDED_BY(scrape_mutex_) = 0;
  uint64_t reloads_rejected_seen_ ABSL_GUARDED_BY(scrape_mutex_) = 0;
};

// The mask function label of a cell masked with `action` under `rule`: tokenize, null, or the
// kind of the column's own mask (redact, partial, email, hash, generalize).
std::string_view MaskFunctionLabel(policy::Action action, const policy::ColumnRule& rule);

// Counts the masked cells of the result in progress per field, and adds them to the counters
// when the result ends: a local increment per cell, a counter update per field per result.
// Counter pointers are cached per (classification, mask function) until Reset. Session's thread.
class MaskedCellTally {
 public:
  explicit MaskedCellTally(Metrics* metrics) : metrics_(metrics) {}
  ~MaskedCellTally() { Flush(); }
  MaskedCellTally(const MaskedCellTally&) = delete;
  MaskedCellTally& operator=(const MaskedCellTally&) = delete;

  // A new result with `fields` columns; flushes the previous one.
  void Begin(size_t fields);
  // Field `field` of the current result is masked with `action` under `rule`.
  void Track(size_t field, policy::Action action, const policy::ColumnRule& rule);
  void Count(size_t field) {
    if (field < counts_.size()) ++counts_[field].second;
  }
  void Flush();
  // The policy changed: class indexes mean something else now.
  void Reset();

 private:
  Metrics* metrics_;
  std::vector<std::pair<prometheus::Counter*, uint64_t>> counts_;
  absl::flat_hash_map<std::pair<size_t, std::string_view>, prometheus::Counter*> cache_;
};

// Measures the time pgmask itself adds to one request/response cycle of a session, and records it
// in pgmask_statement_overhead_seconds: (a) from the moment the pump has the client's first
// message of the cycle whole in its buffer to the moment the batch holding it has been written to
// the server, plus (b) from the moment the first whole message of the server's answer is in the
// buffer to the moment the batch holding it has been written to the client. Network time and the
// server's own work are outside both intervals; the rest of a long result streams through and is
// not counted. Four clock reads per cycle, nothing per row. A cycle ends at ReadyForQuery; with
// pipelining only the first request of a burst is measured. Session's thread only.
class StatementTimer {
 public:
  explicit StatementTimer(prometheus::Histogram* histogram) : histogram_(histogram) {}

  void ClientFrame();                       // a whole client message is in the buffer
  void ClientWritten();                     // the client pump wrote its batch to the server
  void ServerFrame(bool ready_for_query);   // a whole server message is in the buffer
  void ServerWritten();                     // the server pump wrote its batch to the client

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kIdle, kRequest, kAwaitResponse, kResponse, kAwaitReady };

  prometheus::Histogram* histogram_;
  Phase phase_ = Phase::kIdle;
  bool ready_seen_ = false;
  Clock::time_point started_{};
  Clock::duration request_part_{};
};

}  // namespace pgmask::proxy
