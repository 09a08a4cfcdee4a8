#include "proxy/scan_sampler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "policy/scan_detectors.h"

namespace pgmask::proxy {
namespace {

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

// Every column of every relation outside the system schemas. A domain is judged by its base
// type (typcategory is the base type's already; the name tells dates from times).
constexpr const char* kCatalogQuery =
    "SELECT n.nspname, c.relname, c.relkind, c.relispartition, c.reltuples::float8,"
    " pg_catalog.has_table_privilege(c.oid, 'SELECT'), a.attname,"
    " pg_catalog.format_type(a.atttypid, a.atttypmod), t.typcategory, bt.typname"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    " AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
    " ORDER BY n.nspname, c.relname, a.attnum";

// A table above this many estimated rows per wanted row is sampled by pages (TABLESAMPLE
// SYSTEM), which reads only the sampled pages; smaller ones are read from the start with LIMIT.
constexpr double kTableSampleFactor = 20;
// TABLESAMPLE SYSTEM picks whole pages at the given percentage: ask for five times the rows
// wanted, so a sample of clustered pages still fills the LIMIT.
constexpr double kOversample = 5;

struct TablePlan {
  policy::ScannedTable table;
  double reltuples = 0;
  bool readable = true;
  std::vector<policy::TypeFamily> families;  // per column
};

std::string QuoteIdent(PGconn* conn, std::string_view name) {
  char* quoted = PQescapeIdentifier(conn, name.data(), name.size());
  if (quoted == nullptr) return std::string();
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

absl::StatusOr<std::vector<TablePlan>> ReadCatalog(PGconn* conn) {
  Result r(PQexec(conn, kCatalogQuery));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return absl::UnavailableError(PQresultErrorMessage(r.get()));
  std::vector<TablePlan> plans;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto get = [&](int col) { return std::string_view(PQgetvalue(r.get(), row, col)); };
    if (plans.empty() || plans.back().table.schema != get(0) || plans.back().table.name != get(1)) {
      TablePlan plan;
      plan.table.schema = std::string(get(0));
      plan.table.name = std::string(get(1));
      const std::string_view kind = get(2);
      plan.table.catalog_only = !(kind == "r" || kind == "p") || get(3) == "t";
      plan.reltuples = std::atof(PQgetvalue(r.get(), row, 4));
      plan.readable = get(5) == "t";
      plans.push_back(std::move(plan));
    }
    TablePlan& plan = plans.back();
    plan.table.columns.push_back({std::string(get(6)), std::string(get(7)), std::nullopt});
    const std::string_view category = get(8);
    plan.families.push_back(policy::TypeFamilyOf(category.empty() ? '\0' : category[0], get(9)));
  }
  return plans;
}

std::string SampleQuery(PGconn* conn, const TablePlan& plan, const std::vector<size_t>& columns, size_t rows,
                        bool tablesample) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    absl::StrAppendFormat(&sql, "%spg_catalog.left(%s::pg_catalog.text, %d)", i ? ", " : "",
                          QuoteIdent(conn, plan.table.columns[columns[i]].name), policy::kMaxScannedValueBytes);
  }
  absl::StrAppendFormat(&sql, " FROM %s.%s", QuoteIdent(conn, plan.table.schema), QuoteIdent(conn, plan.table.name));
  if (tablesample) {
    const double percent = std::min(100.0, std::max(0.0001, 100.0 * kOversample * static_cast<double>(rows) /
                                                                plan.reltuples));
    absl::StrAppendFormat(&sql, " TABLESAMPLE SYSTEM (%.4f)", percent);
  }
  absl::StrAppendFormat(&sql, " LIMIT %d", rows);
  return sql;
}

// Runs one sample query, row by row into the profiles. Returns the rows read, or the reason the
// table was skipped: the SQLSTATE only, as an error message could quote a value.
absl::StatusOr<size_t> RunSample(PGconn* conn, const std::string& sql, std::vector<policy::ColumnProfile>& profiles,
                                 int timeout_seconds) {
  if (PQsendQuery(conn, sql.c_str()) != 1) return absl::UnavailableError(PQerrorMessage(conn));
  PQsetSingleRowMode(conn);
  size_t rows = 0;
  std::optional<std::string> failure;
  for (Result r(PQgetResult(conn)); r != nullptr; r.reset(PQgetResult(conn))) {
    const ExecStatusType status = PQresultStatus(r.get());
    if (status == PGRES_SINGLE_TUPLE) {
      ++rows;
      for (int col = 0; col < PQnfields(r.get()) && col < static_cast<int>(profiles.size()); ++col) {
        profiles[col].Add(PQgetisnull(r.get(), 0, col)
                              ? std::nullopt
                              : std::optional<std::string_view>(
                                    std::string_view(PQgetvalue(r.get(), 0, col), PQgetlength(r.get(), 0, col))));
      }
      continue;
    }
    if (status == PGRES_TUPLES_OK || failure) continue;
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    const std::string_view sqlstate = state ? state : "";
    if (sqlstate == "57014") {
      failure = absl::StrFormat("timed out after %d s", timeout_seconds);
    } else if (sqlstate == "42501") {
      failure = "no SELECT privilege";
    } else {
      failure = absl::StrFormat("error SQLSTATE %s", sqlstate.empty() ? "unknown" : sqlstate);
    }
  }
  if (failure) return absl::AbortedError(*failure);
  return rows;
}

void SampleTable(PGconn* conn, const SampleLimits& limits, TablePlan& plan) {
  policy::ScannedTable& table = plan.table;
  if (!plan.readable) {
    table.skipped = "no SELECT privilege";
    return;
  }
  std::vector<size_t> columns;
  for (size_t i = 0; i < plan.families.size(); ++i) {
    if (plan.families[i] != policy::TypeFamily::kOther) columns.push_back(i);
  }
  if (columns.empty()) return;
  const bool tablesample = plan.reltuples > kTableSampleFactor * static_cast<double>(limits.rows);
  for (const bool pages : {tablesample, false}) {
    std::vector<policy::ColumnProfile> profiles;
    for (size_t i : columns) profiles.emplace_back(table.columns[i].name, plan.families[i]);
    absl::StatusOr<size_t> rows =
        RunSample(conn, SampleQuery(conn, plan, columns, limits.rows, pages), profiles, limits.table_timeout_seconds);
    if (!rows.ok()) {
      table.skipped = std::string(rows.status().message());
      return;
    }
    // A page sample of a table whose statistics overstate it can come back empty: read from the
    // start instead.
    if (*rows == 0 && pages) continue;
    table.sampled_rows = *rows;
    table.sample_method = pages ? "tablesample" : "limit";
    std::vector<std::optional<policy::Finding>> findings;
    for (const policy::ColumnProfile& p : profiles) findings.push_back(p.Classify());
    policy::AdjustForTable(findings);
    for (size_t i = 0; i < columns.size(); ++i) table.columns[columns[i]].finding = std::move(findings[i]);
    return;
  }
}

}  // namespace

absl::StatusOr<policy::ScanResult> ScanDatabase(PGconn* conn, const SampleLimits& limits, ScanProgress progress) {
  absl::StatusOr<std::vector<TablePlan>> plans = ReadCatalog(conn);
  if (!plans.ok()) return plans.status();
  size_t total = 0;
  for (const TablePlan& p : *plans) total += p.table.catalog_only ? 0 : 1;
  policy::ScanResult result;
  result.database = PQdb(conn);
  size_t done = 0;
  for (TablePlan& plan : *plans) {
    if (!plan.table.catalog_only) {
      const auto start = std::chrono::steady_clock::now();
      SampleTable(conn, limits, plan);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      progress(plan.table, ++done, total, took.count());
      if (PQstatus(conn) != CONNECTION_OK) return absl::UnavailableError("lost the connection to the database");
    }
    result.tables.push_back(std::move(plan.table));
  }
  return result;
}

}  // namespace pgmask::proxy
