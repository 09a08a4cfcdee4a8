// What the analyzer finds in one statement, independent of any role: the lineage of every output
// column, where protected columns are used other than as output, the functions called, the data
// written into tables or side channels, and the refusal triggers that hold for every restricted
// role. decision.h turns it into a per-session verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/lineage.h"
#include "policy/name_resolution.h"
#include "policy/statement_kind.h"

namespace pgmask::policy {

struct OutputColumn {
  std::string name;  // as PostgreSQL would name it ("?column?" for an anonymous expression)
  Lineage lineage;
  // Stands for zero or more columns the analysis cannot list: the unlisted columns of a
  // relation the catalog does not fully know, or the columns of a function returning a record.
  bool unlisted = false;
  bool operator==(const OutputColumn&) const = default;
};

// Where a protected column is used other than as an output value.
enum class UsageClause {
  kWhere,
  kJoin,          // JOIN ON / USING / NATURAL, MERGE ON
  kHaving,
  kOrderBy,       // ORDER BY, and ordered aggregates
  kGroupBy,
  kDistinct,      // SELECT DISTINCT, and UNION without ALL
  kDistinctOn,
  kWindow,        // PARTITION BY, window ORDER BY and frame offsets
  kLimit,         // LIMIT, OFFSET, FETCH FIRST
  kSetOperation,  // INTERSECT, EXCEPT
  kCondition,     // any other comparison, pattern match or condition (CASE WHEN, FILTER, ...)
  // A computation whose errors depend on the value (a division, a cast, arithmetic that can
  // overflow): whether it fails tells one bit of the value, even when the result is redacted.
  kFallible,
  // A write to a column of a unique index or exclusion constraint: whether it conflicts tells
  // whether the value is already there.
  kUniqueCheck,
  // A write to a column with a foreign key to a protected one: whether it fails tells whether
  // the referenced value exists.
  kForeignKeyCheck,
  // An UPDATE (or ON CONFLICT DO UPDATE, MERGE ... UPDATE) of the column: PostgreSQL compares the
  // new value with the one it replaces, and shows the outcome (a HOT update, the size of the
  // write-ahead log record, a trigger that skips unchanged rows).
  kReplaced,
};

std::string_view UsageClauseName(UsageClause clause);

struct ColumnUsage {
  UsageClause clause;
  // Only equality is revealed: grouping, DISTINCT, PARTITION BY or an equality comparison, where
  // every operand is a plain reference to a protected column. Allowed for roles that see all of
  // `columns` tokenized or hashed (tokens reveal equality anyway).
  bool equality_only = false;
  // The protected columns of the usage; for an equality comparison both sides.
  ProtectedColumnSet columns;
  bool everything = false;  // an untraceable operand: every protected column
  bool operator==(const ColumnUsage&) const = default;
};

struct FunctionUse {
  std::string schema;  // as written; empty when unqualified
  std::string name;
  FunctionOrigin origin = FunctionOrigin::kUnknown;
  bool trusted = false;  // built-in, or listed in settings.trusted_functions
  bool operator==(const FunctionUse&) const = default;
};

// Protected data stored into a table or sent out of band by the statement itself.
struct DataWrite {
  std::string target;  // "table public.archive (column ssn)", "a notification payload", ...
  Lineage lineage;
};

// A setting the statement changes: the proxy tracks search_path (name resolution) itself.
struct SettingChange {
  std::string name;
  std::optional<std::string> value;  // literal text; nullopt for RESET/DEFAULT or a non-literal
};

struct StatementAnalysis {
  StatementKind kind = StatementKind::kUtility;
  // The statement's text within the query string (RawStmt location and length; length 0 means
  // "to the end").
  int32_t location = 0;
  int32_t length = 0;
  // PREPARE/EXECUTE/DEALLOCATE: the statement name; DECLARE/FETCH/MOVE/CLOSE: the cursor name.
  std::string name;
  // The result columns in order. For PREPARE and DECLARE those of the inner query, which
  // EXECUTE and FETCH return later; EXECUTE and FETCH themselves have none here (the proxy
  // looks the name up). EXPLAIN: its plan text, which holds no protected value.
  std::vector<OutputColumn> outputs;
  std::vector<ColumnUsage> usages;
  std::vector<FunctionUse> functions;
  std::vector<DataWrite> writes;
  // The protected columns the statement stores values into: INSERT, UPDATE, MERGE and COPY FROM
  // targets (whatever the values are; the trail records them).
  Lineage stored;
  std::vector<SettingChange> settings;
  // Reasons every restricted role is refused, whatever its actions.
  std::vector<std::string> refusals;
  // Relations the statement names that a complete catalog does not have, as written: created
  // since the catalog was read, or not existing at all.
  std::vector<std::string> unknown_relations;
  // The analysis looked at a constant (ORDER BY 2, set_config's arguments, SET values): another
  // text that differs only in its constants may be analysed differently.
  bool literal_sensitive = false;
  // Protected data the statement computes without returning or storing it: the statement
  // EXPLAIN ANALYZE runs, what ANALYZE, REFRESH, REINDEX and CLUSTER evaluate again (index and
  // statistics expressions, a materialized view's query). Its errors and notices can carry values.
  Lineage computed;
  // The statement inserts, updates or deletes rows, at any depth (a WITH, EXPLAIN ANALYZE, COPY
  // (...) TO): a failing row is quoted whole in the error detail.
  bool writes_rows = false;
  // COMMIT, PREPARE TRANSACTION, SET CONSTRAINTS: they run the transaction's deferred constraint
  // checks, whose errors quote rows the transaction's writes conflict with (an exclusion
  // constraint's existing key, the key a deleted row is still referenced by).
  bool runs_deferred_checks = false;
};

}  // namespace pgmask::policy
