#include "proxy/metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/proxy_state.h"

namespace pgmask::proxy {
namespace {

struct EndCase {
  std::string name;
  bool reached_ready;
  std::string reason;
  std::optional<RefusedConnection> refused;
};

class SessionEnds : public testing::TestWithParam<EndCase> {};

TEST_P(SessionEnds, Classifies) {
  EXPECT_EQ(ClassifySessionEnd(GetParam().reached_ready, GetParam().reason), GetParam().refused);
}

INSTANTIATE_TEST_SUITE_P(
    Metrics, SessionEnds,
    testing::Values(
        EndCase{"served", true, "client terminated", std::nullopt},
        EndCase{"too_many", false, "refused: too many clients", RefusedConnection::kTooManyClients},
        EndCase{"shutdown", false, "refused: shutting down", RefusedConnection::kShutdown},
        EndCase{"timeout", false, "startup timeout", RefusedConnection::kStartupTimeout},
        EndCase{"upstream", false, "upstream unreachable", RefusedConnection::kUpstreamUnreachable},
        EndCase{"auth", false, "upstream refused the login", RefusedConnection::kAuthFailed},
        EndCase{"auth_file", false, "refused: authentication failed: wrong password", RefusedConnection::kAuthFailed},
        EndCase{"catalog", false, "catalog could not be read", RefusedConnection::kCatalogUnavailable},
        EndCase{"bad_length", false, "invalid startup packet length", RefusedConnection::kProtocolViolation},
        EndCase{"bad_password", false, "protocol violation: expected a password response",
                RefusedConnection::kProtocolViolation},
        EndCase{"cancel", false, "cancel request relayed", std::nullopt},
        EndCase{"went_away", false, "client closed before startup", std::nullopt},
        EndCase{"upstream_closed", false, "upstream closed during authentication", std::nullopt}),
    [](const testing::TestParamInfo<EndCase>& info) { return info.param.name; });

TEST(Metrics, ScrapeHasEveryFamilyAndCounts) {
  ProxyState state{ServeConfig{}};
  Metrics& m = state.metrics;
  m.ConnectionAccepted();
  m.SessionEnded(false, "refused: too many clients");
  m.SessionEnded(false, "upstream unreachable");
  m.StatementCompleted(false);
  m.StatementCompleted(true);
  m.StatementRefused(StatementRefusal::kStatement);
  policy::ColumnRule rule;
  rule.classification = "PII";
  rule.mask.kind = policy::MaskKind::kEmail;
  {
    MaskedCellTally tally(&m);
    tally.Begin(2);
    tally.Track(1, policy::Action::kMask, rule);
    tally.Count(1);
    tally.Count(1);
    tally.Count(0);  // not tracked: not counted
  }  // flushed when destroyed
  const std::string text = m.Scrape(state);
  for (const char* line : {
           "pgmask_connections_total 1",
           "pgmask_connections_active 0",
           "pgmask_connections_refused_total{reason=\"too_many_clients\"} 1",
           "pgmask_connections_refused_total{reason=\"upstream_unreachable\"} 1",
           "pgmask_connections_refused_total{reason=\"auth_failed\"} 0",
           "pgmask_upstream_connect_errors_total 1",
           "pgmask_statements_total{action=\"clear\"} 1",
           "pgmask_statements_total{action=\"masked\"} 1",
           "pgmask_statements_total{action=\"refused\"} 1",
           "pgmask_statements_refused_total{reason=\"statement\"} 1",
           "pgmask_cells_masked_total{class=\"PII\",mask=\"email\"} 2",
           "pgmask_audit_records_total 0",
           "pgmask_audit_failures_total 0",
           "pgmask_audit_degraded 0",
           "pgmask_policy_reloads_total{result=\"ok\"} 0",
           "pgmask_policy_reloads_total{result=\"rejected\"} 0",
           "pgmask_statement_overhead_seconds_count 0",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("pgmask_policy_info{"), std::string::npos) << "no policy, no info series";
}

TEST(StatementTimer, ObservesOneCyclePerRequest) {
  Metrics m;
  StatementTimer timer(m.statement_overhead());
  timer.ServerFrame(false);  // a notification outside a cycle: ignored
  timer.ClientFrame();
  timer.ClientFrame();
  timer.ClientWritten();
  timer.ServerFrame(false);
  timer.ServerFrame(true);
  timer.ServerWritten();  // ends the cycle: ReadyForQuery was in this batch
  timer.ClientFrame();
  timer.ClientWritten();
  timer.ServerFrame(false);
  timer.ServerWritten();
  timer.ServerFrame(false);
  timer.ServerWritten();  // still the second cycle, not observed again
  timer.ServerFrame(true);
  const auto metric = m.statement_overhead()->Collect();
  EXPECT_EQ(metric.histogram.sample_count, 2u);
  EXPECT_GE(metric.histogram.sample_sum, 0.0);
}

}  // namespace
}  // namespace pgmask::proxy
