// What `pgmask scan` found, and its three renderings: a policy draft in the BRIEF's YAML format,
// a drift report against a loaded policy, and JSON. No rendering ever contains a sampled value:
// findings carry counts only (scan_classifier.h).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/scan_classifier.h"

namespace pgmask::policy {

struct ScannedColumn {
  std::string name;  // catalog form
  std::string type;  // format_type(), for the reader
  std::optional<Finding> finding;
};

struct ScannedTable {
  std::string schema;
  std::string name;
  std::vector<ScannedColumn> columns;  // every column of the relation, in attnum order
  // Views, materialized views, partitions and foreign tables are known (a policy may name them)
  // but not sampled: their data is a base table's, or lives elsewhere.
  bool catalog_only = false;
  std::optional<std::string> skipped;  // why a table was not sampled: "timed out", "no SELECT privilege"
  size_t sampled_rows = 0;
  std::string sample_method;           // "limit" or "tablesample"
};

struct ScanResult {
  std::string database;
  std::vector<ScannedTable> tables;
};

struct DriftColumn {
  std::string table;   // schema.table as written in a policy (identifiers quoted when needed)
  std::string column;  // empty when the whole table is gone
  const ScannedColumn* scanned = nullptr;  // uncovered columns only: the column and its finding
};

struct Drift {
  std::vector<DriftColumn> uncovered;  // findings on columns the policy does not protect
  std::vector<DriftColumn> missing;    // policy tables and columns the database no longer has
};

// `result` must outlive the Drift (it points at its columns).
Drift ComputeDrift(const ScanResult& result, const Policy& policy);

void RenderDraftYaml(const ScanResult& result, std::ostream& out);
void RenderDriftText(const Drift& drift, std::string_view policy_name, std::ostream& out);
// One JSON object: the tables with their findings, and the drift when `drift` is given.
std::string RenderJson(const ScanResult& result, const Drift* drift, std::string_view policy_name);

// `schema.table` as a policy writes it.
std::string PolicyTableName(std::string_view schema, std::string_view table);

}  // namespace pgmask::policy
