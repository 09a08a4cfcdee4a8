#include "proxy/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>

#include "proxy/proxy_state.h"

namespace pgmask::proxy {
namespace {

// From 10µs to 100ms: pgmask's own work per cycle is normally in the tens of microseconds.
const prometheus::Histogram::BucketBoundaries& OverheadBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1};
  return *buckets;
}

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

}  // namespace

std::string_view RefusedConnectionLabel(RefusedConnection reason) {
  switch (reason) {
    case RefusedConnection::kTooManyClients: return "too_many_clients";
    case RefusedConnection::kShutdown: return "shutdown";
    case RefusedConnection::kProtocolViolation: return "protocol_violation";
    case RefusedConnection::kUpstreamUnreachable: return "upstream_unreachable";
    case RefusedConnection::kStartupTimeout: return "startup_timeout";
    case RefusedConnection::kAuthFailed: return "auth_failed";
    case RefusedConnection::kCatalogUnavailable: return "catalog_unavailable";
    case RefusedConnection::kCount: break;
  }
  return "other";
}

std::string_view StatementRefusalLabel(StatementRefusal reason) {
  switch (reason) {
    case StatementRefusal::kStatement: return "statement";
    case StatementRefusal::kDeniedResult: return "denied_result";
    case StatementRefusal::kAuditUnavailable: return "audit_unavailable";
    case StatementRefusal::kCount: break;
  }
  return "other";
}

std::optional<RefusedConnection> ClassifySessionEnd(bool reached_ready, std::string_view reason) {
  if (reached_ready) return std::nullopt;
  if (StartsWith(reason, "refused: too many clients")) return RefusedConnection::kTooManyClients;
  if (StartsWith(reason, "refused: shutting down")) return RefusedConnection::kShutdown;
  if (StartsWith(reason, "startup timeout")) return RefusedConnection::kStartupTimeout;
  if (StartsWith(reason, "upstream unreachable")) return RefusedConnection::kUpstreamUnreachable;
  if (StartsWith(reason, "upstream refused the login") || StartsWith(reason, "refused: authentication failed")) {
    return RefusedConnection::kAuthFailed;
  }
  if (StartsWith(reason, "catalog could not be read")) return RefusedConnection::kCatalogUnavailable;
  // Cancel requests end here too, and so do clients that hang up or lose the upstream: not refusals.
  if (StartsWith(reason, "cancel request") || StartsWith(reason, "client closed") ||
      StartsWith(reason, "upstream") || reason.empty()) {
    return std::nullopt;
  }
  // What is left before ReadyForQuery is pgmask rejecting the client's bytes: a malformed or
  // oversized startup packet, an unsupported protocol version, too many encryption requests, a
  // message other than a password response during authentication.
  return RefusedConnection::kProtocolViolation;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  prometheus::Registry& r = *registry_;

  connections_active_ = &BuildGauge()
                             .Name("pgmask_connections_active")
                             .Help("Client connections open now (sessions and cancel requests)")
                             .Register(r)
                             .Add({});
  connections_total_ = &BuildCounter()
                            .Name("pgmask_connections_total")
                            .Help("Client connections accepted")
                            .Register(r)
                            .Add({});
  auto& refused = BuildCounter()
                      .Name("pgmask_connections_refused_total")
                      .Help("Client connections that ended before their session was ready, by reason")
                      .Register(r);
  for (size_t i = 0; i < connections_refused_.size(); ++i) {
    connections_refused_[i] =
        &refused.Add({{"reason", std::string(RefusedConnectionLabel(static_cast<RefusedConnection>(i)))}});
  }
  upstream_connect_errors_ = &BuildCounter()
                                  .Name("pgmask_upstream_connect_errors_total")
                                  .Help("Failed or timed-out TCP connects to the upstream server "
                                        "(sessions and cancel requests; readiness probes not counted)")
                                  .Register(r)
                                  .Add({});

  auto& statements = BuildCounter()
                         .Name("pgmask_statements_total")
                         .Help("Statements by what pgmask did: clear (passed unchanged), masked (at least one "
                               "value rewritten), refused")
                         .Register(r);
  statements_clear_ = &statements.Add({{"action", "clear"}});
  statements_masked_ = &statements.Add({{"action", "masked"}});
  statements_refused_ = &statements.Add({{"action", "refused"}});
  auto& refusals = BuildCounter()
                       .Name("pgmask_statements_refused_total")
                       .Help("Statements refused by pgmask, by reason")
                       .Register(r);
  for (size_t i = 0; i < statements_refused_by_reason_.size(); ++i) {
    statements_refused_by_reason_[i] =
        &refusals.Add({{"reason", std::string(StatementRefusalLabel(static_cast<StatementRefusal>(i)))}});
  }
  cells_masked_ = &BuildCounter()
                       .Name("pgmask_cells_masked_total")
                       .Help("Result values rewritten, by classification and mask function (names from the policy)")
                       .Register(r);

  audit_records_ = &BuildCounter()
                        .Name("pgmask_audit_records_total")
                        .Help("Audit records written")
                        .Register(r)
                        .Add({});
  audit_failures_ = &BuildCounter()
                         .Name("pgmask_audit_failures_total")
                         .Help("Audit records that could not be written")
                         .Register(r)
                         .Add({});
  audit_degraded_ = &BuildGauge()
                        .Name("pgmask_audit_degraded")
                        .Help("1 while an audit sink cannot write (records queued; protected statements refused with audit_on_failure block)")
                        .Register(r)
                        .Add({});

  auto& reloads = BuildCounter()
                      .Name("pgmask_policy_reloads_total")
                      .Help("Policy reloads (SIGHUP or file change) by result")
                      .Register(r);
  policy_reloads_ok_ = &reloads.Add({{"result", "ok"}});
  policy_reloads_rejected_ = &reloads.Add({{"result", "rejected"}});
  policy_info_ = &BuildGauge()
                      .Name("pgmask_policy_info")
                      .Help("The policy in force: 1, labelled with the SHA-256 of its file")
                      .Register(r);
  policy_generation_ = &BuildGauge()
                            .Name("pgmask_policy_generation")
                            .Help("Policies loaded since start (1 after the first load, +1 per successful reload)")
                            .Register(r)
                            .Add({});

  statement_overhead_ = &BuildHistogram()
                             .Name("pgmask_statement_overhead_seconds")
                             .Help("Time pgmask adds to a request/response cycle: client message in buffer to "
                                   "written upstream, plus first server message in buffer to written to the client")
                             .Register(r)
                             .Add({}, OverheadBuckets());
}

void Metrics::SessionEnded(bool reached_ready, std::string_view reason) {
  if (StartsWith(reason, "upstream unreachable") || StartsWith(reason, "cancel request: upstream unreachable")) {
    upstream_connect_errors_->Increment();
  }
  const std::optional<RefusedConnection> refused = ClassifySessionEnd(reached_ready, reason);
  if (refused) connections_refused_[static_cast<size_t>(*refused)]->Increment();
}

prometheus::Counter* Metrics::CellsMasked(std::string_view classification, std::string_view mask_function) {
  // Family::Add returns the existing series for labels it has seen.
  return &cells_masked_->Add({{"class", std::string(classification)}, {"mask", std::string(mask_function)}});
}

std::string Metrics::Scrape(const ProxyState& state) {
  {
    absl::MutexLock lock(&scrape_mutex_);
    connections_active_->Set(state.open_connections.load(std::memory_order_relaxed));
    const PolicyStore& policies = state.policies;
    const uint64_t generation = policies.generation();
    policy_generation_->Set(static_cast<double>(generation));
    const uint64_t ok = generation > 0 ? generation - 1 : 0;
    if (ok > reloads_ok_seen_) policy_reloads_ok_->Increment(static_cast<double>(ok - reloads_ok_seen_));
    reloads_ok_seen_ = std::max(reloads_ok_seen_, ok);
    const uint64_t rejected = policies.rejected_reloads();
    if (rejected > reloads_rejected_seen_) {
      policy_reloads_rejected_->Increment(static_cast<double>(rejected - reloads_rejected_seen_));
    }
    reloads_rejected_seen_ = std::max(reloads_rejected_seen_, rejected);
    const std::shared_ptr<const policy::Policy> current = policies.current();
    const std::string sha = current ? current->sha256_hex() : std::string();
    if (sha != policy_sha256_) {
      if (policy_info_series_ != nullptr) policy_info_->Remove(policy_info_series_);
      policy_info_series_ = sha.empty() ? nullptr : &policy_info_->Add({{"sha256", sha}});
      if (policy_info_series_ != nullptr) policy_info_series_->Set(1);
      policy_sha256_ = sha;
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::string_view MaskFunctionLabel(policy::Action action, const policy::ColumnRule& rule) {
  switch (action) {
    case policy::Action::kTokenize: return "tokenize";
    case policy::Action::kNull: return "null";
    case policy::Action::kMask: return policy::MaskKindName(rule.mask.kind);
    default: return "redact";
  }
}

void MaskedCellTally::Begin(size_t fields) {
  Flush();
  counts_.assign(fields, {nullptr, 0});
}

void MaskedCellTally::Track(size_t field, policy::Action action, const policy::ColumnRule& rule) {
  if (metrics_ == nullptr || field >= counts_.size()) return;
  const std::string_view function = MaskFunctionLabel(action, rule);
  prometheus::Counter*& counter = cache_[{rule.class_index, function}];
  if (counter == nullptr) counter = metrics_->CellsMasked(rule.classification, function);
  counts_[field].first = counter;
}

void MaskedCellTally::Flush() {
  for (auto& [counter, n] : counts_) {
    if (counter != nullptr && n > 0) counter->Increment(static_cast<double>(n));
    n = 0;
  }
}

void MaskedCellTally::Reset() {
  Flush();
  counts_.clear();
  cache_.clear();
}

void StatementTimer::ClientFrame() {
  if (phase_ != Phase::kIdle) return;
  started_ = Clock::now();
  phase_ = Phase::kRequest;
}

void StatementTimer::ClientWritten() {
  if (phase_ != Phase::kRequest) return;
  request_part_ = Clock::now() - started_;
  phase_ = Phase::kAwaitResponse;
}

void StatementTimer::ServerFrame(bool ready_for_query) {
  switch (phase_) {
    case Phase::kIdle:
      return;  // asynchronous messages (notifications) outside a cycle
    case Phase::kRequest:
      // The answer overtook the report of our own write: this cycle cannot be split honestly.
      phase_ = ready_for_query ? Phase::kIdle : Phase::kAwaitReady;
      return;
    case Phase::kAwaitResponse:
      started_ = Clock::now();
      ready_seen_ = ready_for_query;
      phase_ = Phase::kResponse;
      return;
    case Phase::kResponse:
      ready_seen_ = ready_seen_ || ready_for_query;
      return;
    case Phase::kAwaitReady:
      if (ready_for_query) phase_ = Phase::kIdle;
      return;
  }
}

void StatementTimer::ServerWritten() {
  if (phase_ != Phase::kResponse) return;
  const Clock::duration total = request_part_ + (Clock::now() - started_);
  histogram_->Observe(std::chrono::duration<double>(total).count());
  phase_ = ready_seen_ ? Phase::kIdle : Phase::kAwaitReady;
  ready_seen_ = false;
}

}  // namespace pgmask::proxy
