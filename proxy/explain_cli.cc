#include "proxy/explain_cli.h"

#include <libpq-fe.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "policy/explain_command.h"
#include "policy/live_catalog.h"
#include "policy/policy_loader.h"
#include "proxy/serve_config.h"

namespace pgmask::proxy {
namespace {

constexpr std::string_view kUsage =
    "usage: pgmask explain --policy FILE --role ROLE [--upstream HOST:PORT --user USER --dbname DB] [--json] SQL\n";

struct Options {
  std::string policy;
  std::string role;
  std::optional<HostPort> upstream;
  std::string user;
  std::string dbname;
  bool json = false;
  std::string sql;
};

absl::StatusOr<Options> ParseArgs(const std::vector<std::string_view>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrFormat("%s needs a value", a));
      return std::string(args[++i]);
    };
    absl::StatusOr<std::string> v;
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--policy" || a == "--role" || a == "--upstream" || a == "--user" || a == "--dbname") {
      v = value();
      if (!v.ok()) return v.status();
      if (a == "--policy") o.policy = *v;
      if (a == "--role") o.role = *v;
      if (a == "--user") o.user = *v;
      if (a == "--dbname") o.dbname = *v;
      if (a == "--upstream") {
        auto hp = ParseHostPort(*v);
        if (!hp.ok()) return hp.status();
        o.upstream = *hp;
      }
      continue;
    }
    if (!a.empty() && a[0] == '-' && o.sql.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("unknown option %s", a));
    }
    if (!o.sql.empty()) return absl::InvalidArgumentError("give the SQL as one argument");
    o.sql = std::string(a);
  }
  if (o.policy.empty() || o.role.empty() || o.sql.empty()) {
    return absl::InvalidArgumentError("--policy, --role and the SQL are required");
  }
  if (!o.upstream && (!o.user.empty() || !o.dbname.empty())) {
    return absl::InvalidArgumentError("--user and --dbname need --upstream");
  }
  return o;
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultCloser>;

// Every row of every statement of `sql` (one simple Query), folded into `reader`.
absl::Status ReadAll(PGconn* conn, const std::string& sql, policy::LiveCatalogReader& reader) {
  if (PQsendQuery(conn, sql.c_str()) != 1) return absl::UnavailableError(PQerrorMessage(conn));
  absl::Status status;
  std::vector<std::optional<std::string_view>> cells;
  for (Result r(PQgetResult(conn)); r != nullptr; r.reset(PQgetResult(conn))) {
    const ExecStatusType s = PQresultStatus(r.get());
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
      if (status.ok()) status = absl::UnavailableError(PQresultErrorMessage(r.get()));
      continue;
    }
    for (int row = 0; row < PQntuples(r.get()) && status.ok(); ++row) {
      cells.clear();
      for (int col = 0; col < PQnfields(r.get()); ++col) {
        cells.push_back(PQgetisnull(r.get(), row, col) ? std::nullopt
                                                       : std::optional<std::string_view>(PQgetvalue(r.get(), row, col)));
      }
      status = reader.AddRow(cells);
    }
  }
  return status;
}

// The memberships of `role` (itself first), as the proxy computes them for a session of it.
absl::StatusOr<std::vector<std::string>> Memberships(PGconn* conn, const std::string& role) {
  const char* sql =
      "WITH RECURSIVE m(oid) AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1"
      " UNION SELECT a.roleid FROM pg_catalog.pg_auth_members a JOIN m ON a.member = m.oid)"
      " SELECT r.rolname FROM pg_catalog.pg_roles r JOIN m USING (oid) ORDER BY r.rolname = $1 DESC, r.rolname";
  const char* params[] = {role.c_str()};
  Result r(PQexecParams(conn, sql, 1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return absl::UnavailableError(PQresultErrorMessage(r.get()));
  if (PQntuples(r.get()) == 0) return absl::NotFoundError(absl::StrFormat("role %s does not exist", role));
  std::vector<std::string> roles;
  for (int i = 0; i < PQntuples(r.get()); ++i) roles.emplace_back(PQgetvalue(r.get(), i, 0));
  return roles;
}

int RunOnline(const Options& o) {
  auto policy = policy::LoadPolicyFile(o.policy);
  if (!policy.ok()) {
    std::cerr << "pgmask explain: " << policy.status().message() << "\n";
    return 1;
  }
  const std::string port = std::to_string(o.upstream->port);
  const char* keys[] = {"host", "port", "user", "dbname", "client_encoding", "application_name", nullptr};
  const char* values[] = {o.upstream->host.c_str(), port.c_str(), o.user.empty() ? nullptr : o.user.c_str(),
                          o.dbname.empty() ? nullptr : o.dbname.c_str(), "UTF8", "pgmask explain", nullptr};
  Conn conn(PQconnectdbParams(keys, values, 0));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::cerr << "pgmask explain: could not connect to " << o.upstream->host << ":" << port << ": "
              << PQerrorMessage(conn.get());
    return 1;
  }
  policy::LiveCatalogReader reader(**policy);
  const absl::Status read = ReadAll(conn.get(), policy::LiveCatalogQuery(**policy, ""), reader);
  auto live = read.ok() ? std::move(reader).Finish() : absl::StatusOr<policy::LiveCatalog>(read);
  if (!live.ok() || !live->shared) {
    std::cerr << "pgmask explain: could not read the catalog: "
              << (live.ok() ? "no relations" : std::string(live.status().message())) << "\n";
    return 1;
  }
  auto roles = Memberships(conn.get(), o.role);
  if (!roles.ok()) {
    std::cerr << "pgmask explain: " << roles.status().message() << "\n";
    return 1;
  }
  const policy::CatalogView catalog(std::make_shared<const policy::CatalogSnapshot>(*std::move(live->shared)),
                                    std::move(live->search_path));
  const std::string note = absl::StrFormat("live: %s:%s database %s, search_path of user %s", o.upstream->host,
                                           port, PQdb(conn.get()), PQuser(conn.get()));
  return policy::ExplainStatements(**policy, *roles, o.sql, catalog, note, o.json, std::cout);
}

}  // namespace

int RunExplain(const std::vector<std::string_view>& args) {
  auto options = ParseArgs(args);
  if (!options.ok()) {
    std::cerr << "pgmask explain: " << options.status().message() << "\n" << kUsage;
    return 2;
  }
  if (!options->upstream) {
    return policy::RunExplainCommand(options->policy, options->role, options->sql, options->json, std::cout,
                                     std::cerr);
  }
  return RunOnline(*options);
}

}  // namespace pgmask::proxy
