// The analyzer's working state, shared by analyzer.cc (statements and DML), analyzer_from.cc
// (FROM items, relations, views, CTEs) and analyzer_expressions.cc (expressions, functions,
// column references). Not part of the policy layer's interface.
#pragma once

#include <initializer_list>

#include <pg_query/pg_query.pb-c.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/catalog_view.h"
#include "policy/lineage.h"
#include "policy/policy.h"
#include "policy/statement_analysis.h"

namespace pgmask::policy::analysis_internal {

inline std::string_view Str(const char* s) { return s == nullptr ? std::string_view() : std::string_view(s); }

// A column of a FROM item. `unlisted` stands for columns the analysis cannot name.
struct RangeColumn {
  std::string name;
  Lineage lineage;
  bool unlisted = false;
  // A stored relation's column (not a view's): whether COPY sends it, what a write to it is
  // checked against.
  const CatalogColumn* stored = nullptr;
  // A stored relation's column: the same-named columns of its partitions and inheritance
  // children, whose unique indexes and foreign keys a write through it meets as well.
  std::vector<const CatalogColumn*> below = {};
};

// A FROM item that names can refer to: a relation, subquery, function, CTE or aliased join.
struct RangeItem {
  std::string schema;  // the relation's schema when referenced without alias, else empty
  std::string name;    // alias, relation, CTE or function name; empty when it has none
  std::vector<RangeColumn> columns;
  // A stored relation: it also has the system columns (ctid, xmin, tableoid...), which hold no
  // row data.
  bool system_columns = false;
  // A view: the protected columns that foreign keys of the relations under it reference. A
  // write through the view is checked against them, and the analysis follows only protected
  // columns through a view, so it cannot tell which column a write lands in.
  Lineage view_foreign_keys = {};
};

// A column of a FROM item (or a join's side) by name; with unlisted columns it may be any of them.
Lineage NamedColumn(const std::vector<RangeColumn>& columns, std::string_view name);

// tableoid, xmin, xmax, cmin, cmax, ctid.
bool IsSystemColumn(std::string_view name);
// Whether a set_config value could be accepted by a setting that changes how SQL text is read.
bool CouldBeSettingWord(std::string_view value);

// One query level: its FROM items, what `*` expands to, and the enclosing level (outer query or,
// for LATERAL, the items before it).
struct Scope {
  const Scope* parent = nullptr;
  std::vector<RangeItem> items;
  std::vector<RangeColumn> star;
};

struct CteEntry {
  std::string name;
  std::vector<OutputColumn> outputs;
  bool pending = false;  // WITH RECURSIVE, before its first pass
};

// One column of rows from several sources: UNION branches, VALUES rows. `sources_known` is false
// on a recursive CTE's first pass, when a reference to it has no lineage yet.
void MergeRows(Lineage& column, const Lineage& rows, bool sources_known);

class Analyzer {
 public:
  Analyzer(const Policy& policy, const CatalogView& catalog, StatementAnalysis& out)
      : policy_(policy), catalog_(catalog), out_(out) {}

  void Statement(const PgQuery__Node& statement);

 private:
  friend class DepthGuard;

  // analyzer.cc: statements.
  void StatementBody(const PgQuery__Node& statement);
  std::vector<OutputColumn> Query(const PgQuery__Node* node, const Scope* outer);
  std::vector<OutputColumn> Insert(const PgQuery__InsertStmt& stmt, const Scope* outer);
  std::vector<OutputColumn> Update(const PgQuery__UpdateStmt& stmt, const Scope* outer);
  std::vector<OutputColumn> Delete(const PgQuery__DeleteStmt& stmt, const Scope* outer);
  void Merge(const PgQuery__MergeStmt& stmt, const Scope* outer);
  void Copy(const PgQuery__CopyStmt& stmt);
  void RefuseSettingsView(const PgQuery__RangeVar& target);
  void Setting(const PgQuery__VariableSetStmt& stmt);
  std::vector<OutputColumn> Select(const PgQuery__SelectStmt& stmt, const Scope* outer);
  std::vector<OutputColumn> SetOperation(const PgQuery__SelectStmt& stmt, const Scope* outer);
  std::vector<OutputColumn> Values(const PgQuery__SelectStmt& stmt, const Scope* outer);
  void Targets(PgQuery__Node* const* targets, size_t n, const Scope& scope, std::vector<OutputColumn>& out);
  void SortAndLimit(const PgQuery__SelectStmt& stmt, const Scope& scope, const std::vector<OutputColumn>& outputs);
  void GroupItem(const PgQuery__Node* node, const Scope& scope, const std::vector<OutputColumn>& outputs);
  void ClauseItem(const PgQuery__Node* node, const Scope& scope, const std::vector<OutputColumn>& outputs,
                  UsageClause clause, bool equality_kind);
  void WriteColumns(const RangeItem& target, PgQuery__Node* const* targets, size_t n, const Scope& scope);
  // The stored columns of `target` generated from `source`.
  static std::vector<const RangeColumn*> GeneratedFrom(const RangeItem& target, const CatalogColumn& source);
  // CREATE OR REPLACE VIEW: refused when a column of the existing view would carry protected
  // data it did not (views and policies over it were analysed with the old lineage).
  // Whether a relation created under this name goes to a temporary schema.
  bool CreatedInTemporarySchema(const PgQuery__RangeVar& relation) const;
  void KeepsViewLineage(const PgQuery__RangeVar& view, const std::vector<OutputColumn>& outputs);
  // CREATE INDEX and CREATE STATISTICS: their keys and predicates run over every row of the
  // relation, and again at each ANALYZE, REINDEX or write.
  void Index(const PgQuery__IndexStmt& stmt);
  void Statistics(const PgQuery__CreateStatsStmt& stmt);
  // An index or statistics element: a column by name, or an expression (derived).
  Lineage ElementLineage(const char* name, const PgQuery__Node* expr, const Scope& scope);
  // ANALYZE, REFRESH, REINDEX, CLUSTER of `relation`: its index and statistics expressions, or a
  // materialized view's query, run again.
  void Recomputed(const PgQuery__RangeVar* relation);
  // The subscripts of an assignment target (`SET a[i] = ...`, `INSERT INTO t (a[i])`): they choose
  // where the value is stored, so what they are computed from is stored as well.
  Lineage AssignmentSubscripts(const PgQuery__Node* target, const Scope* scope);

  // analyzer_from.cc: FROM items, relations, views, CTEs.
  void FromItem(const PgQuery__Node* node, Scope& scope, std::vector<RangeColumn>& star);
  void Join(const PgQuery__JoinExpr& join, Scope& scope, std::vector<RangeColumn>& star);
  void FunctionItem(const PgQuery__RangeFunction& function, Scope& scope, std::vector<RangeColumn>& star);
  // A relation, or a CTE of that name unless the name is a statement's target (INSERT INTO,
  // UPDATE, DELETE FROM, MERGE INTO), which PostgreSQL never resolves to a CTE.
  RangeItem Relation(const PgQuery__RangeVar& rv, bool may_be_cte = true);
  std::vector<RangeColumn> ViewColumns(const CatalogRelation& view);
  Lineage ProtectionLineage(const CatalogRelation& relation, std::string_view column);
  // ProtectionLineage, and for a generated column what it is computed from, as derived.
  Lineage StoredColumnLineage(const CatalogRelation& relation, const CatalogColumn& column);
  // Partitions and inheritance children, all levels down (bounded by kMaxInheritanceRelations).
  std::vector<const CatalogRelation*> Descendants(const CatalogRelation& relation) const;
  // The protection of the columns `column`'s foreign keys reference.
  Lineage ReferencedLineage(const CatalogColumn& column);
  size_t PushWith(const PgQuery__WithClause* with, const Scope* outer);
  const CteEntry* FindCte(std::string_view name) const;
  bool CtePending() const;

  // analyzer_expressions.cc: expressions.
  Lineage Expr(const PgQuery__Node* node, const Scope* scope);
  Lineage Condition(const PgQuery__Node* node, const Scope* scope, UsageClause clause);
  void RowSecurityConditions(PgQuery__RangeVar* table, std::initializer_list<const PgQuery__Node*> conditions);
  // Every expression in a utility statement (defaults, constraints, partition bounds, USING of
  // ALTER COLUMN TYPE, publication filters...): the server keeps them and runs them later, or
  // runs them now on `table`'s rows.
  void StoredExpressions(const PgQuery__Node& statement, const PgQuery__RangeVar* table);
  Lineage AExpr(const PgQuery__AExpr& expr, const Scope* scope);
  Lineage SubLink(const PgQuery__SubLink& link, const Scope* scope);
  Lineage FuncCall(const PgQuery__FuncCall& call, const Scope* scope);
  // Refuses the statement when the operator named `names` is not pg_catalog's; whether it did.
  bool RefusedOperator(const std::vector<std::string_view>& names);
  // Whether argument `i` of built-in `name` cannot make the call fail, whatever its value.
  bool ArgumentCannotFail(const PgQuery__FuncCall& call, std::string_view name, size_t i);
  // substring with a pattern (a regular expression or SIMILAR TO) rather than positions.
  bool SubstringByPattern(const PgQuery__FuncCall& call, std::string_view name);
  void Window(const PgQuery__WindowDef& window, const Scope* scope);
  Lineage GenericChildren(const ProtobufCMessage* message, const Scope* scope);
  Lineage ColumnRef(const PgQuery__ColumnRef& ref, const Scope* scope);
  Lineage ColumnByName(const Scope* scope, std::string_view name, bool* resolved);
  bool TrustedFunction(std::string_view schema, std::string_view name, FunctionOrigin origin) const;
  // The text of a constant (through casts), nullopt for anything else. Marks the statement
  // literal-sensitive: every decision that looks at a constant must go through here.
  std::optional<std::string> Literal(const PgQuery__Node* node);

  // Recording.
  void Use(UsageClause clause, bool equality_only, const Lineage& lineage);
  // `input` feeds a computation that may fail on its value: recorded as a kFallible usage once
  // the statement is analysed, after its clauses, so refusals name the clause first.
  void Fallible(const Lineage& input);
  void Refuse(std::string reason);
  void Write(std::string target, const Lineage& lineage);
  // Records that the statement stores into `column` of `target` (every column when null).
  void Store(const RangeItem& target, const std::string_view* column);
  // The catalog's column that protected column `id` names, or null.
  const CatalogColumn* ProtectedCatalogColumn(ProtectedColumnId id) const;

  const Policy& policy_;
  const CatalogView& catalog_;
  StatementAnalysis& out_;
  std::vector<CteEntry> ctes_;  // innermost last
  UsageClause clause_ = UsageClause::kCondition;
  int depth_ = 0;
  bool too_deep_ = false;
  int view_depth_ = 0;
  // False inside view definitions: their filters are the view author's decision, not the
  // session's, and they do not run as the session's predicates.
  bool record_usages_ = true;
  // Inside an expression the server keeps and runs later, in statements pgmask does not see
  // (StoredExpressions, row security policies).
  bool stored_expression_ = false;
  // While a view's definition is analysed: where the foreign keys of the relations it reads go.
  Lineage* view_foreign_keys_ = nullptr;
  Lineage fallible_;
};

// Counts nesting; past kMaxAnalysisDepth the analysis stops descending (`exceeded()`).
class DepthGuard {
 public:
  explicit DepthGuard(Analyzer& a);
  ~DepthGuard() { --analyzer_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  bool exceeded() const { return analyzer_.too_deep_; }

 private:
  Analyzer& analyzer_;
};

// Sets `slot` for the rest of the C++ scope and restores it after.
template <typename T>
class Restore {
 public:
  Restore(T& slot, T value) : slot_(slot), saved_(std::exchange(slot, std::move(value))) {}
  ~Restore() { slot_ = std::move(saved_); }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

 private:
  T& slot_;
  T saved_;
};

// Free helpers shared by the three files.
const RangeItem* FindItem(const Scope* scope, std::string_view schema, std::string_view name);
Lineage WholeRow(const RangeItem& item);
// The name PostgreSQL gives a select-list expression without AS; none when it is the name of a
// column a `*` inside a scalar subquery expands to, which only the catalog knows.
std::optional<std::string> FigureName(const PgQuery__Node* node);
// The String nodes of a name list (funcname, operator name, column list).
std::vector<std::string_view> Names(PgQuery__Node* const* nodes, size_t n);
void RenameColumns(const PgQuery__Alias* alias, std::vector<RangeColumn>& columns);

}  // namespace pgmask::policy::analysis_internal
