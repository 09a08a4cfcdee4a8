#include "proxy/scan_cli.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "policy/policy_loader.h"
#include "policy/scan_report.h"
#include "proxy/scan_sampler.h"
#include "proxy/serve_config.h"

namespace pgmask::proxy {
namespace {

constexpr std::string_view kUsage =
    "usage: pgmask scan --upstream HOST:PORT [--user USER] [--dbname DB] [--sample ROWS] [--table-timeout SECONDS]\n"
    "                   [--policy FILE] [--json]\n";

// Exit status when --policy is given and a column that looks protected is not in it.
constexpr int kExitDrift = 3;
constexpr size_t kMaxSampleRows = 10000;
constexpr int kMaxTableTimeout = 3600;

struct Options {
  std::optional<HostPort> upstream;
  std::string user;
  std::string dbname;
  SampleLimits limits;
  std::string policy;
  bool json = false;
};

template <typename T>
absl::StatusOr<T> ParseBounded(std::string_view flag, std::string_view text, T low, T high) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return absl::InvalidArgumentError(absl::StrFormat("%s must be a number from %d to %d", flag, low, high));
  }
  return value;
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string_view>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a != "--upstream" && a != "--user" && a != "--dbname" && a != "--sample" && a != "--table-timeout" &&
        a != "--policy") {
      return absl::InvalidArgumentError(absl::StrFormat("unknown argument %s", a));
    }
    if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrFormat("%s needs a value", a));
    const std::string_view v = args[++i];
    if (a == "--upstream") {
      auto hp = ParseHostPort(v);
      if (!hp.ok()) return hp.status();
      o.upstream = *hp;
    } else if (a == "--sample") {
      auto rows = ParseBounded<size_t>(a, v, 1, kMaxSampleRows);
      if (!rows.ok()) return rows.status();
      o.limits.rows = *rows;
    } else if (a == "--table-timeout") {
      auto seconds = ParseBounded<int>(a, v, 1, kMaxTableTimeout);
      if (!seconds.ok()) return seconds.status();
      o.limits.table_timeout_seconds = *seconds;
    } else {
      (a == "--user" ? o.user : a == "--dbname" ? o.dbname : o.policy) = std::string(v);
    }
  }
  if (!o.upstream) return absl::InvalidArgumentError("--upstream is required");
  return o;
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};

// One connection, read-only, named in pg_stat_activity, with each statement (one per table)
// bounded by statement_timeout.
std::unique_ptr<PGconn, ConnCloser> Connect(const Options& o) {
  const std::string port = std::to_string(o.upstream->port);
  const std::string options = absl::StrFormat("-c statement_timeout=%d -c default_transaction_read_only=on",
                                              o.limits.table_timeout_seconds * 1000);
  const char* keys[] = {"host", "port", "user", "dbname", "client_encoding", "application_name", "connect_timeout",
                        "options", nullptr};
  const char* values[] = {o.upstream->host.c_str(),
                          port.c_str(),
                          o.user.empty() ? nullptr : o.user.c_str(),
                          o.dbname.empty() ? nullptr : o.dbname.c_str(),
                          "UTF8",
                          "pgmask-scan",
                          "10",
                          options.c_str(),
                          nullptr};
  return std::unique_ptr<PGconn, ConnCloser>(PQconnectdbParams(keys, values, 0));
}

// One line per table on a terminal; nothing when stderr is a file or a pipe (CI logs).
void PrintProgress(const policy::ScannedTable& t, size_t index, size_t total, double seconds) {
  size_t findings = 0;
  for (const policy::ScannedColumn& c : t.columns) findings += c.finding ? 1 : 0;
  std::string line = absl::StrFormat("scan: [%d/%d] %s: ", index, total, policy::PolicyTableName(t.schema, t.name));
  if (t.skipped) {
    absl::StrAppendFormat(&line, "skipped (%s)", *t.skipped);
  } else {
    absl::StrAppendFormat(&line, "%d rows%s, %d columns, %d findings", t.sampled_rows,
                          t.sample_method.empty() ? "" : " by " + t.sample_method, t.columns.size(), findings);
  }
  absl::StrAppendFormat(&line, ", %.2f s\n", seconds);
  std::cerr << line << std::flush;
}

}  // namespace

int RunScan(const std::vector<std::string_view>& args) {
  auto o = ParseArgs(args);
  if (!o.ok()) {
    std::cerr << "pgmask scan: " << o.status().message() << "\n" << kUsage;
    return 2;
  }
  std::shared_ptr<const policy::Policy> policy;
  if (!o->policy.empty()) {
    auto loaded = policy::LoadPolicyFile(o->policy);
    if (!loaded.ok()) {
      std::cerr << "pgmask scan: " << loaded.status().message() << "\n";
      return 1;
    }
    policy = *std::move(loaded);
  }
  auto conn = Connect(*o);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::cerr << "pgmask scan: could not connect to " << o->upstream->host << ":" << o->upstream->port << ": "
              << PQerrorMessage(conn.get());
    return 1;
  }
  const bool terminal = isatty(STDERR_FILENO) == 1;
  auto result = ScanDatabase(conn.get(), o->limits, [&](const policy::ScannedTable& t, size_t i, size_t n, double s) {
    if (terminal) PrintProgress(t, i, n, s);
  });
  if (!result.ok()) {
    std::cerr << "pgmask scan: " << result.status().message() << "\n";
    return 1;
  }
  std::optional<policy::Drift> drift;
  if (policy) drift = policy::ComputeDrift(*result, *policy);
  if (o->json) {
    std::cout << policy::RenderJson(*result, drift ? &*drift : nullptr, o->policy);
  } else if (drift) {
    policy::RenderDriftText(*drift, o->policy, std::cout);
  } else {
    policy::RenderDraftYaml(*result, std::cout);
  }
  std::cout.flush();
  return drift && !drift->uncovered.empty() ? kExitDrift : 0;
}

}  // namespace pgmask::proxy
