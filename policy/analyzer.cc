#include "policy/analyzer.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "policy/analyzer_internal.h"
#include "policy/function_rules.h"
#include "policy/total_functions.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace analysis_internal {
namespace {

// The lineage of the output at `index` (0-based). Past an output pgmask cannot count (t.* of a
// function returning records), positions are unknown: it may be that one or any after it.
Lineage OutputAt(const std::vector<OutputColumn>& outputs, size_t index) {
  size_t uncounted = 0;
  while (uncounted < outputs.size() && !outputs[uncounted].unlisted) ++uncounted;
  if (index < uncounted) return outputs[index].lineage;
  Lineage rest;
  for (size_t i = uncounted; i < outputs.size(); ++i) rest.Merge(outputs[i].lineage);
  return rest;
}

bool IsPlainDistinct(const PgQuery__SelectStmt& s) {
  // SELECT DISTINCT is a distinct_clause holding one empty node; DISTINCT ON lists expressions.
  return s.n_distinct_clause == 1 &&
         (s.distinct_clause[0] == nullptr || s.distinct_clause[0]->node_case == PG_QUERY__NODE__NODE__NOT_SET);
}

bool HasUnlisted(const std::vector<OutputColumn>& columns) {
  for (const OutputColumn& c : columns) {
    if (c.unlisted) return true;
  }
  return false;
}

std::string TableName(const RangeItem& item, const PgQuery__RangeVar& rv) {
  const std::string_view schema = Str(rv.schemaname);
  return schema.empty() ? std::string(Str(rv.relname)) : absl::StrFormat("%s.%s", schema, Str(rv.relname));
}

std::vector<OutputColumn> ToOutputs(const std::vector<RangeColumn>& columns) {
  std::vector<OutputColumn> out;
  out.reserve(columns.size());
  for (const RangeColumn& c : columns) out.push_back({c.name, c.lineage, c.unlisted});
  return out;
}

std::string_view LastName(PgQuery__Node* const* nodes, size_t n) {
  const std::vector<std::string_view> names = Names(nodes, n);
  return names.empty() ? std::string_view() : names.back();
}

std::string_view RelationName(const PgQuery__RangeVar* rv) {
  return rv == nullptr ? std::string_view() : Str(rv->relname);
}

// The names `statement` gives new types: domains, types, and relations, whose row types share
// their names. Schemas are left out: the one a cast finds first depends on search_path and pg_temp.
void NewTypeNames(const PgQuery__Node& statement, std::vector<std::string_view>& out) {
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
      out.push_back(LastName(statement.create_domain_stmt->domainname, statement.create_domain_stmt->n_domainname));
      return;
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
      if (statement.define_stmt->kind == PG_QUERY__OBJECT_TYPE__OBJECT_TYPE) {
        out.push_back(LastName(statement.define_stmt->defnames, statement.define_stmt->n_defnames));
      }
      return;
    case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
      out.push_back(LastName(statement.create_enum_stmt->type_name, statement.create_enum_stmt->n_type_name));
      return;
    case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT: {
      const PgQuery__CreateRangeStmt& range = *statement.create_range_stmt;
      out.push_back(LastName(range.type_name, range.n_type_name));
      // The range's multirange type is created too, under this name when given.
      for (size_t i = 0; i < range.n_params; ++i) {
        const PgQuery__Node* p = range.params[i];
        if (p == nullptr || p->node_case != PG_QUERY__NODE__NODE_DEF_ELEM ||
            Str(p->def_elem->defname) != "multirange_type_name" || p->def_elem->arg == nullptr) {
          continue;
        }
        const PgQuery__Node& arg = *p->def_elem->arg;
        if (arg.node_case == PG_QUERY__NODE__NODE_TYPE_NAME) {
          out.push_back(LastName(arg.type_name->names, arg.type_name->n_names));
        } else if (arg.node_case == PG_QUERY__NODE__NODE_STRING) {
          out.push_back(Str(arg.string->sval));
        }
      }
      return;
    }
    case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
      out.push_back(RelationName(statement.composite_type_stmt->typevar));
      return;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
      out.push_back(RelationName(statement.create_stmt->relation));
      return;
    case PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT:
      if (statement.create_foreign_table_stmt->base_stmt != nullptr) {
        out.push_back(RelationName(statement.create_foreign_table_stmt->base_stmt->relation));
      }
      return;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
      out.push_back(RelationName(statement.view_stmt->view));
      return;
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
      out.push_back(RelationName(statement.create_seq_stmt->sequence));
      return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
      if (statement.create_table_as_stmt->into != nullptr) {
        out.push_back(RelationName(statement.create_table_as_stmt->into->rel));
      }
      return;
    case PG_QUERY__NODE__NODE_SELECT_STMT:
      if (statement.select_stmt->into_clause != nullptr) {
        out.push_back(RelationName(statement.select_stmt->into_clause->rel));
      }
      return;
    case PG_QUERY__NODE__NODE_RENAME_STMT:
      switch (statement.rename_stmt->rename_type) {
        case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE:
        case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN:
        case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
        case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
        case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
        case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
          out.push_back(Str(statement.rename_stmt->newname));
          return;
        default:
          return;
      }
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
      for (size_t i = 0; i < statement.create_schema_stmt->n_schema_elts; ++i) {
        if (statement.create_schema_stmt->schema_elts[i] != nullptr) {
          NewTypeNames(*statement.create_schema_stmt->schema_elts[i], out);
        }
      }
      return;
    default:
      return;
  }
}

}  // namespace

constexpr char kNewCodeNames[] =
    "creating operators, aggregates, casts, operator classes, conversions, transforms, range types, extensions, "
    "languages and access methods is not allowed for restricted roles: pgmask would take the functions behind them "
    "for built-in or trusted ones";

DepthGuard::DepthGuard(Analyzer& a) : analyzer_(a) {
  if (++analyzer_.depth_ > kMaxAnalysisDepth) analyzer_.too_deep_ = true;
}

void Analyzer::Statement(const PgQuery__Node& statement) {
  out_.kind = StatementKindOf(statement);
  StatementBody(statement);
  Use(UsageClause::kFallible, false, fallible_);
  if (too_deep_) {
    Refuse("it is nested too deeply to analyse");
    for (OutputColumn& c : out_.outputs) c.lineage = Lineage::Everything();
  }
}

void Analyzer::StatementBody(const PgQuery__Node& statement) {
  // Casts to these names count as unable to fail; a domain's CHECK or a row type's input parser
  // under the same name, found first through pg_temp or search_path, would answer questions.
  std::vector<std::string_view> new_types;
  NewTypeNames(statement, new_types);
  for (std::string_view name : new_types) {
    if (IsUnfailingCastTypeName(name)) {
      Refuse(absl::StrFormat("creating or renaming a type, domain or relation named %s is not allowed for restricted "
                             "roles: it would take the place of pg_catalog.%s in casts",
                             name, name));
    }
  }
  switch (statement.node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: {
      const PgQuery__SelectStmt& s = *statement.select_stmt;
      std::vector<OutputColumn> outputs = Select(s, nullptr);
      if (s.into_clause == nullptr) {
        out_.outputs = std::move(outputs);
        return;
      }
      // SELECT INTO stores its result in a new table instead of returning it.
      const std::string target = absl::StrFormat("new table %s", Str(s.into_clause->rel->relname));
      for (const OutputColumn& c : outputs) Write(target, c.lineage);
      return;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      out_.outputs = Query(&statement, nullptr);
      return;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      Copy(*statement.copy_stmt);
      return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
      const PgQuery__CreateTableAsStmt& ctas = *statement.create_table_as_stmt;
      const std::string target = absl::StrFormat("new table %s", Str(ctas.into->rel->relname));
      if (ctas.query != nullptr && ctas.query->node_case == PG_QUERY__NODE__NODE_EXECUTE_STMT) {
        // CREATE TABLE AS EXECUTE: the prepared statement's result is not in this text.
        Write(target, Lineage::Everything());
        return;
      }
      std::vector<OutputColumn> outputs = Query(ctas.query, nullptr);
      if (ctas.into->skip_data) return;  // WITH NO DATA copies nothing
      for (const OutputColumn& c : outputs) Write(target, c.lineage);
      return;
    }
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
      // EXPLAIN ANALYZE runs the statement: everything it would do counts, and what it computes
      // can reach its errors and notices. The plan text itself names columns and the statement's
      // own literals, never stored values.
      const PgQuery__Node* query = statement.explain_stmt->query;
      for (size_t i = 0; i < statement.explain_stmt->n_options; ++i) {
        const PgQuery__Node* option = statement.explain_stmt->options[i];
        if (option != nullptr && option->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            Str(option->def_elem->defname) == "wal") {
          Refuse("EXPLAIN's WAL option is not allowed for restricted roles: how much write-ahead log an UPDATE writes "
                 "depends on how the written value compares with the one it replaces");
        }
      }
      if (query != nullptr) StatementBody(*query);
      for (const OutputColumn& c : out_.outputs) out_.computed.Merge(c.lineage);
      if (query != nullptr && query->node_case == PG_QUERY__NODE__NODE_EXECUTE_STMT) {
        // What the prepared statement computes is known where it was prepared; out_.name is its
        // name, so the proxy checks that analysis still holds before this runs it.
        out_.computed = Lineage::Everything();
      }
      out_.outputs = {OutputColumn{"QUERY PLAN", {}, false}};
      return;
    }
    case PG_QUERY__NODE__NODE_INDEX_STMT:
      Index(*statement.index_stmt);
      return;
    case PG_QUERY__NODE__NODE_CREATE_STATS_STMT:
      Statistics(*statement.create_stats_stmt);
      return;
    case PG_QUERY__NODE__NODE_VACUUM_STMT: {
      // ANALYZE computes index and statistics expressions over every row again.
      const PgQuery__VacuumStmt& v = *statement.vacuum_stmt;
      if (v.n_rels == 0) out_.computed = Lineage::Everything();
      for (size_t i = 0; i < v.n_rels; ++i) {
        const PgQuery__Node* rel = v.rels[i];
        if (rel != nullptr && rel->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION &&
            rel->vacuum_relation->relation != nullptr) {
          Recomputed(rel->vacuum_relation->relation);
        }
      }
      return;
    }
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT: {
      // It stores its query's result, like CREATE TABLE AS: a copy the role then owns, whose
      // indexes, statistics and plan estimates are its own to make and read.
      const PgQuery__RangeVar* relation = statement.refresh_mat_view_stmt->relation;
      if (relation == nullptr) return;
      const Lineage rows = WholeRow(Relation(*relation));
      out_.computed.MergeDerived(rows);
      if (!statement.refresh_mat_view_stmt->skip_data) {
        Write(absl::StrFormat("materialized view %s", Str(relation->relname)), rows);
      }
      return;
    }
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      if (statement.cluster_stmt->relation == nullptr) out_.computed = Lineage::Everything();
      Recomputed(statement.cluster_stmt->relation);
      return;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      if (statement.reindex_stmt->relation == nullptr) out_.computed = Lineage::Everything();
      Recomputed(statement.reindex_stmt->relation);
      return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      out_.name = Str(statement.prepare_stmt->name);
      out_.outputs = Query(statement.prepare_stmt->query, nullptr);
      return;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      out_.name = Str(statement.declare_cursor_stmt->portalname);
      out_.outputs = Query(statement.declare_cursor_stmt->query, nullptr);
      return;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT: {
      out_.name = Str(statement.execute_stmt->name);
      // The prepared statement's analysis takes its parameters for values the client sends. The
      // server refuses subqueries and columns here, but a function can still read a table.
      Lineage params;
      for (size_t i = 0; i < statement.execute_stmt->n_params; ++i) {
        params.MergeDerived(Expr(statement.execute_stmt->params[i], nullptr));
      }
      Write(absl::StrFormat("the parameters of prepared statement %s", out_.name), params);
      return;
    }
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      out_.name = Str(statement.fetch_stmt->portalname);
      return;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
      out_.name = Str(statement.close_portal_stmt->portalname);
      return;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
      out_.name = Str(statement.deallocate_stmt->name);
      return;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
      Setting(*statement.variable_set_stmt);
      return;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
      // Settings, in one column (three for SHOW ALL): fields the analysis accounts for.
      out_.outputs = {OutputColumn{"*", {}, true}};
      return;
    // Settings for later sessions: held to the same rules, so no later session starts with them.
    case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT:
      if (statement.alter_role_set_stmt->setstmt != nullptr) Setting(*statement.alter_role_set_stmt->setstmt);
      return;
    case PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT:
      if (statement.alter_database_set_stmt->setstmt != nullptr) Setting(*statement.alter_database_set_stmt->setstmt);
      return;
    case PG_QUERY__NODE__NODE_DO_STMT:
      Refuse("DO blocks run code that pgmask cannot analyse");
      return;
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
      Refuse("creating functions and procedures is not allowed for restricted roles");
      return;
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
      if (statement.define_stmt->kind == PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE ||
          statement.define_stmt->kind == PG_QUERY__OBJECT_TYPE__OBJECT_OPERATOR) {
        Refuse(kNewCodeNames);
      }
      return;
    // Each puts existing functions behind new names or into implicit calls (casts, operator
    // classes, encoding conversions, transforms), or installs objects (extensions, languages,
    // access methods) whose names pgmask would take for built-in or trusted ones.
    case PG_QUERY__NODE__NODE_CREATE_CAST_STMT:
    case PG_QUERY__NODE__NODE_CREATE_OP_CLASS_STMT:
    case PG_QUERY__NODE__NODE_CREATE_OP_FAMILY_STMT:
    case PG_QUERY__NODE__NODE_ALTER_OP_FAMILY_STMT:
    case PG_QUERY__NODE__NODE_ALTER_OPERATOR_STMT:
    case PG_QUERY__NODE__NODE_CREATE_CONVERSION_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TRANSFORM_STMT:
    case PG_QUERY__NODE__NODE_CREATE_PLANG_STMT:
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_CONTENTS_STMT:
    case PG_QUERY__NODE__NODE_CREATE_AM_STMT:
    // A range type comes with constructor functions named like it and its multirange.
    case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
      Refuse(kNewCodeNames);
      return;
    case PG_QUERY__NODE__NODE_VIEW_STMT: {
      // A view's filters run whenever it is read, and views are analysed by their definitions as
      // their authors wrote them: written by a restricted role, they are held to its rules now.
      const PgQuery__ViewStmt& view = *statement.view_stmt;
      const std::vector<OutputColumn> outputs = Query(view.query, nullptr);
      if (view.replace && view.view != nullptr) KeepsViewLineage(*view.view, outputs);
      // A temporary view (and a view over a temporary table is one) is found before every
      // relation of the same name, pg_catalog's included, and pgmask does not see it.
      if ((view.view != nullptr && (Str(view.view->relpersistence) == "t" || CreatedInTemporarySchema(*view.view))) ||
          !out_.unknown_relations.empty()) {
        Refuse("temporary views are not allowed for restricted roles: they take the place of the relations pgmask "
               "knows by the same name");
      }
      return;
    }
    case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT: {
      const PgQuery__CreatePolicyStmt& p = *statement.create_policy_stmt;
      RowSecurityConditions(p.table, {p.qual, p.with_check});
      return;
    }
    case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT: {
      const PgQuery__AlterPolicyStmt& p = *statement.alter_policy_stmt;
      RowSecurityConditions(p.table, {p.qual, p.with_check});
      return;
    }
    case PG_QUERY__NODE__NODE_RULE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
    case PG_QUERY__NODE__NODE_CREATE_EVENT_TRIG_STMT:
      Refuse("rules and triggers run statements later that pgmask cannot analyse");
      return;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
      out_.runs_deferred_checks = statement.transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT ||
                                  statement.transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE;
      return;
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
      out_.runs_deferred_checks = true;
      return;
    case PG_QUERY__NODE__NODE_CALL_STMT: {
      PgQuery__Node call = PG_QUERY__NODE__INIT;
      call.node_case = PG_QUERY__NODE__NODE_FUNC_CALL;
      call.func_call = statement.call_stmt->funccall;
      const Lineage lineage = Expr(&call, nullptr);
      // A procedure with OUT parameters returns one row of a shape only its definition knows.
      out_.outputs = {OutputColumn{"*", lineage.empty() ? lineage : Lineage::Everything(), true}};
      return;
    }
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
      // Its elements are statements of their own (CREATE VIEW, TABLE, INDEX...), held to the
      // same rules as when they come alone.
      for (size_t i = 0; i < statement.create_schema_stmt->n_schema_elts; ++i) {
        if (statement.create_schema_stmt->schema_elts[i] != nullptr) StatementBody(*statement.create_schema_stmt->schema_elts[i]);
      }
      return;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
      StoredExpressions(statement, statement.alter_table_stmt->relation);
      return;
    default:
      // Other utility statements return no stored data, but may hold expressions.
      StoredExpressions(statement, nullptr);
      return;
  }
}

void Analyzer::StoredExpressions(const PgQuery__Node& statement, const PgQuery__RangeVar* table) {
  // Column names in them are the columns of `table` when pgmask knows it; otherwise of a relation
  // being created, or a domain's VALUE: values the role itself puts there.
  Scope scope;
  if (table != nullptr && ResolveRelation(catalog_, Str(table->schemaname), Str(table->relname)) != nullptr) {
    scope.items.push_back(Relation(*table));
  } else {
    scope.items.push_back(RangeItem{"", "", {RangeColumn{"*", {}, true}}, false});
  }
  Restore<bool> stored(stored_expression_, true);
  Restore<UsageClause> current(clause_, UsageClause::kWhere);
  // What they read of a protected column decides which rows the statement keeps or fails on.
  Use(UsageClause::kWhere, false, Expr(&statement, &scope));
}

void Analyzer::RowSecurityConditions(PgQuery__RangeVar* table, std::initializer_list<const PgQuery__Node*> conditions) {
  // A row security policy filters what every later statement on the table sees: its conditions
  // are the creator's, like a WHERE clause it runs.
  Restore<bool> stored(stored_expression_, true);
  Scope scope{nullptr, {}, {}};
  if (table != nullptr) {
    PgQuery__Node item = PG_QUERY__NODE__INIT;
    item.node_case = PG_QUERY__NODE__NODE_RANGE_VAR;
    item.range_var = table;
    std::vector<RangeColumn> star;
    FromItem(&item, scope, star);
  }
  for (const PgQuery__Node* condition : conditions) {
    if (condition != nullptr) Condition(condition, &scope, UsageClause::kWhere);
  }
}

std::vector<OutputColumn> Analyzer::Query(const PgQuery__Node* node, const Scope* outer) {
  if (node == nullptr) return {};
  DepthGuard guard(*this);
  if (guard.exceeded()) return {OutputColumn{"*", Lineage::Everything(), true}};
  switch (node->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: return Select(*node->select_stmt, outer);
    case PG_QUERY__NODE__NODE_INSERT_STMT: return Insert(*node->insert_stmt, outer);
    case PG_QUERY__NODE__NODE_UPDATE_STMT: return Update(*node->update_stmt, outer);
    case PG_QUERY__NODE__NODE_DELETE_STMT: return Delete(*node->delete_stmt, outer);
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      Merge(*node->merge_stmt, outer);
      return {};
    default:
      return {OutputColumn{"*", Lineage::Everything(), true}};
  }
}

std::vector<OutputColumn> Analyzer::Select(const PgQuery__SelectStmt& s, const Scope* outer) {
  DepthGuard guard(*this);
  if (guard.exceeded()) return {OutputColumn{"*", Lineage::Everything(), true}};
  const size_t ctes = ctes_.size();
  PushWith(s.with_clause, outer);
  std::vector<OutputColumn> out;
  const bool set_operation = s.op == PG_QUERY__SET_OPERATION__SETOP_UNION ||
                             s.op == PG_QUERY__SET_OPERATION__SETOP_INTERSECT ||
                             s.op == PG_QUERY__SET_OPERATION__SETOP_EXCEPT;
  if (set_operation) {
    out = SetOperation(s, outer);
    // ORDER BY and LIMIT of a set operation see only its output columns.
    SortAndLimit(s, Scope{outer, {}, {}}, out);
  } else if (s.n_values_lists > 0) {
    out = Values(s, outer);
    SortAndLimit(s, Scope{outer, {}, {}}, out);
  } else {
    Scope scope{outer, {}, {}};
    for (size_t i = 0; i < s.n_from_clause; ++i) {
      std::vector<RangeColumn> star;
      FromItem(s.from_clause[i], scope, star);
      scope.star.insert(scope.star.end(), star.begin(), star.end());
    }
    if (s.where_clause != nullptr) Condition(s.where_clause, &scope, UsageClause::kWhere);
    Targets(s.target_list, s.n_target_list, scope, out);
    for (size_t i = 0; i < s.n_group_clause; ++i) GroupItem(s.group_clause[i], scope, out);
    if (s.having_clause != nullptr) Condition(s.having_clause, &scope, UsageClause::kHaving);
    for (size_t i = 0; i < s.n_window_clause; ++i) {
      const PgQuery__Node* w = s.window_clause[i];
      if (w != nullptr && w->node_case == PG_QUERY__NODE__NODE_WINDOW_DEF) Window(*w->window_def, &scope);
    }
    if (IsPlainDistinct(s)) {
      // Equal tokens are equal values only for a column's own values, not for an expression of
      // them (substr(ssn, 1, 1)) or for rows mixed with a literal.
      for (const OutputColumn& c : out) Use(UsageClause::kDistinct, c.lineage.DirectColumn().has_value(), c.lineage);
    } else {
      // DISTINCT ON keeps the first row of each group after sorting on the values, and returns
      // them in that order: more than equality.
      for (size_t i = 0; i < s.n_distinct_clause; ++i) {
        ClauseItem(s.distinct_clause[i], scope, out, UsageClause::kDistinctOn, false);
      }
    }
    SortAndLimit(s, scope, out);
  }
  ctes_.resize(ctes);
  return out;
}

std::vector<OutputColumn> Analyzer::SetOperation(const PgQuery__SelectStmt& s, const Scope* outer) {
  std::vector<OutputColumn> left = s.larg != nullptr ? Select(*s.larg, outer) : std::vector<OutputColumn>{};
  const std::vector<OutputColumn> right = s.rarg != nullptr ? Select(*s.rarg, outer) : std::vector<OutputColumn>{};
  if (left.size() != right.size() || HasUnlisted(left) || HasUnlisted(right)) {
    // Positions cannot be matched: every column may hold anything from either side.
    Lineage all;
    for (const OutputColumn& c : left) all.MergeDerived(c.lineage);
    for (const OutputColumn& c : right) all.MergeDerived(c.lineage);
    for (OutputColumn& c : left) c.lineage = all;
    return left;
  }
  for (size_t i = 0; i < left.size(); ++i) {
    if (s.op == PG_QUERY__SET_OPERATION__SETOP_UNION) {
      MergeRows(left[i].lineage, right[i].lineage, !CtePending());
      // UNION without ALL removes duplicates: it reveals equality like DISTINCT.
      if (!s.all) Use(UsageClause::kDistinct, left[i].lineage.DirectColumn().has_value(), left[i].lineage);
      continue;
    }
    // INTERSECT and EXCEPT compare the branches' values: a predicate, harmless only between two
    // protected columns both seen as tokens.
    Lineage compared = left[i].lineage;
    compared.Merge(right[i].lineage);
    const bool equality = left[i].lineage.DirectColumn() && right[i].lineage.DirectColumn();
    Use(UsageClause::kSetOperation, equality, compared);
  }
  return left;
}

std::vector<OutputColumn> Analyzer::Values(const PgQuery__SelectStmt& s, const Scope* outer) {
  std::vector<OutputColumn> out;
  for (size_t r = 0; r < s.n_values_lists; ++r) {
    const PgQuery__Node* row = s.values_lists[r];
    if (row == nullptr || row->node_case != PG_QUERY__NODE__NODE_LIST) continue;
    for (size_t c = 0; c < row->list->n_items; ++c) {
      const Lineage lineage = Expr(row->list->items[c], outer);
      if (c >= out.size()) {
        out.push_back({absl::StrFormat("column%d", c + 1), lineage, false});
      } else {
        MergeRows(out[c].lineage, lineage, !CtePending());
      }
    }
  }
  return out;
}

void MergeRows(Lineage& column, const Lineage& rows, bool sources_known) {
  // Rows of a protected column beside rows of anything else (a literal, an unprotected column)
  // are not that column's values alone. Shown with its action, the other rows would be tokenized
  // or hashed too, which turns the action into an oracle for chosen values, and an equality
  // join on the column would compare with them.
  const bool mixed = sources_known && column.empty() != rows.empty();
  column.Merge(rows);
  if (mixed) column = column.AsDerived();
}

void Analyzer::Targets(PgQuery__Node* const* targets, size_t n, const Scope& scope, std::vector<OutputColumn>& out) {
  Restore<UsageClause> clause(clause_, UsageClause::kCondition);
  for (size_t i = 0; i < n; ++i) {
    const PgQuery__Node* t = targets[i];
    if (t == nullptr || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) continue;
    const PgQuery__ResTarget& rt = *t->res_target;
    const PgQuery__Node* val = rt.val;
    if (val != nullptr && val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && val->column_ref->n_fields > 0 &&
        val->column_ref->fields[val->column_ref->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR) {
      const PgQuery__ColumnRef& ref = *val->column_ref;
      const std::vector<std::string_view> names = Names(ref.fields, ref.n_fields);
      if (names.empty()) {
        for (const RangeColumn& c : scope.star) out.push_back({c.name, c.lineage, c.unlisted});
        continue;
      }
      const std::string_view schema = names.size() >= 2 ? names[names.size() - 2] : std::string_view();
      const RangeItem* item = FindItem(&scope, schema, names.back());
      if (item == nullptr) {
        out.push_back({"*", Lineage::Everything(), true});
        continue;
      }
      for (const RangeColumn& c : item->columns) out.push_back({c.name, c.lineage, c.unlisted});
      continue;
    }
    Lineage lineage = Expr(val, &scope);
    // protobuf-c gives an absent name as "", never null.
    const std::string_view name = Str(rt.name);
    if (!name.empty()) {
      out.push_back({std::string(name), std::move(lineage), false});
    } else if (std::optional<std::string> figured = FigureName(val)) {
      out.push_back({*std::move(figured), std::move(lineage), false});
    } else {
      // Named after a column only the catalog knows: any name, as a column pgmask cannot list.
      out.push_back({"?column?", std::move(lineage), true});
    }
  }
}

void Analyzer::SortAndLimit(const PgQuery__SelectStmt& s, const Scope& scope, const std::vector<OutputColumn>& outputs) {
  for (size_t i = 0; i < s.n_sort_clause; ++i) {
    const PgQuery__Node* n = s.sort_clause[i];
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_SORT_BY) {
      RefusedOperator(Names(n->sort_by->use_op, n->sort_by->n_use_op));  // ORDER BY x USING op
      ClauseItem(n->sort_by->node, scope, outputs, UsageClause::kOrderBy, false);
    }
  }
  Restore<UsageClause> clause(clause_, UsageClause::kLimit);
  if (s.limit_count != nullptr) Use(UsageClause::kLimit, false, Expr(s.limit_count, &scope));
  if (s.limit_offset != nullptr) Use(UsageClause::kLimit, false, Expr(s.limit_offset, &scope));
}

void Analyzer::GroupItem(const PgQuery__Node* node, const Scope& scope, const std::vector<OutputColumn>& outputs) {
  if (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_GROUPING_SET) {
    // ROLLUP, CUBE, GROUPING SETS: each element groups like a plain GROUP BY item.
    for (size_t i = 0; i < node->grouping_set->n_content; ++i) GroupItem(node->grouping_set->content[i], scope, outputs);
    return;
  }
  if (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_ROW_EXPR) {
    // GROUPING SETS ((a, b)) lists a column group as a row.
    for (size_t i = 0; i < node->row_expr->n_args; ++i) GroupItem(node->row_expr->args[i], scope, outputs);
    return;
  }
  ClauseItem(node, scope, outputs, UsageClause::kGroupBy, true);
}

void Analyzer::ClauseItem(const PgQuery__Node* node, const Scope& scope, const std::vector<OutputColumn>& outputs,
                          UsageClause clause, bool equality_kind) {
  if (node == nullptr) return;
  Restore<UsageClause> current(clause_, clause);
  Lineage lineage;
  // ORDER BY 2, GROUP BY 1: an output column by position. Whether a constant here is one
  // depends on its value, so the plan holds only for this text's constants.
  if (node->node_case == PG_QUERY__NODE__NODE_A_CONST) out_.literal_sensitive = true;
  if (node->node_case == PG_QUERY__NODE__NODE_A_CONST && node->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
    const int position = node->a_const->ival->ival;
    if (position >= 1) lineage = OutputAt(outputs, static_cast<size_t>(position - 1));
    Use(clause, equality_kind && lineage.DirectColumn().has_value(), lineage);
    return;
  }
  // A bare name may be an output column (ORDER BY prefers those, GROUP BY input columns): the
  // lineage of both counts, which covers whichever PostgreSQL picks.
  if (node->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && node->column_ref->n_fields == 1 &&
      node->column_ref->fields[0]->node_case == PG_QUERY__NODE__NODE_STRING) {
    const std::string_view name = Str(node->column_ref->fields[0]->string->sval);
    bool output = false;
    // Outputs pgmask cannot list may have the name too.
    bool open = false;
    for (const OutputColumn& c : outputs) {
      if (c.unlisted) {
        lineage.Merge(c.lineage);
        open = true;
      } else if (c.name == name) {
        lineage.Merge(c.lineage);
        output = true;
      }
    }
    if (output || open) {
      bool resolved = false;
      const Lineage input = ColumnByName(&scope, name, &resolved);
      if (resolved || !output) lineage.Merge(input);
      Use(clause, equality_kind && lineage.DirectColumn().has_value(), lineage);
      return;
    }
  }
  lineage = Expr(node, &scope);
  Use(clause, equality_kind && lineage.DirectColumn().has_value(), lineage);
}

void Analyzer::WriteColumns(const RangeItem& target, PgQuery__Node* const* targets, size_t n, const Scope& scope) {
  Restore<UsageClause> clause(clause_, UsageClause::kCondition);
  for (size_t i = 0; i < n; ++i) {
    const PgQuery__Node* t = targets[i];
    if (t == nullptr || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) continue;
    Lineage lineage = Expr(t->res_target->val, &scope);
    lineage.MergeDerived(AssignmentSubscripts(t, &scope));
    const std::string_view column = Str(t->res_target->name);
    Write(absl::StrFormat("table %s (column %s)", target.name, column), lineage);
    Store(target, &column);
    Use(UsageClause::kReplaced, false, NamedColumn(target.columns, column));
    // A generated column computed from it is replaced too, and compared the same way.
    for (const RangeColumn& c : target.columns) {
      if (c.stored == nullptr || c.name != column) continue;
      for (const RangeColumn* g : GeneratedFrom(target, *c.stored)) Use(UsageClause::kReplaced, false, g->lineage);
    }
  }
}

bool Analyzer::CreatedInTemporarySchema(const PgQuery__RangeVar& relation) const {
  const std::string_view schema = Str(relation.schemaname);
  if (!schema.empty()) return IsTemporarySchema(schema);
  // An unqualified new relation goes to the first schema of search_path that exists; with none,
  // only a pg_temp not created yet can take it.
  const std::vector<std::string>& path = catalog_.search_path();
  return path.empty() || IsTemporarySchema(path.front());
}

void Analyzer::KeepsViewLineage(const PgQuery__RangeVar& view, const std::vector<OutputColumn>& outputs) {
  // CREATE OR REPLACE replaces the view where CREATE would put it: for an unqualified name, the
  // first schema of search_path, never pg_catalog or pg_temp unless listed first.
  const std::string_view schema = Str(view.schemaname);
  const std::vector<std::string>& path = catalog_.search_path();
  if (schema.empty() && path.empty()) return;
  const CatalogRelation* old = catalog_.Find(schema.empty() ? std::string_view(path.front()) : schema, Str(view.relname));
  if (old == nullptr || old->kind != RelationKind::kView) return;
  const std::vector<RangeColumn> before = ViewColumns(*old);
  for (size_t i = 0; i < outputs.size(); ++i) {
    // A column added at the end is new to what reads the view's whole row (v::text).
    const Lineage was = i < before.size() ? before[i].lineage : Lineage();
    const Lineage& now = outputs[i].lineage;
    if (was.everything()) continue;
    const ProtectedColumnSet had = was.Columns();
    const ProtectedColumnSet has = now.Columns();
    bool added = now.everything();
    for (ProtectedColumnId id : has.ids()) added = added || !had.Contains(id);
    if (added) {
      Refuse(absl::StrFormat(
          "replacing view %s would give its column %s protected data it did not have: the views and row security "
          "policies built on it were checked against its old definition",
          Str(view.relname), outputs[i].name));
      return;
    }
  }
}

void Analyzer::Index(const PgQuery__IndexStmt& stmt) {
  if (stmt.relation == nullptr) return;
  const RangeItem target = Relation(*stmt.relation);
  const Scope scope{nullptr, {target}, target.columns};
  Lineage keys;
  for (size_t i = 0; i < stmt.n_index_params; ++i) {
    const PgQuery__Node* n = stmt.index_params[i];
    if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM) {
      keys = Lineage::Everything();
      continue;
    }
    keys.Merge(ElementLineage(n->index_elem->name, n->index_elem->expr, scope));
  }
  // An index keeps its keys in order (CLUSTER and index scans return rows in it), and a unique
  // index or exclusion constraint fails on a duplicate, quoting the key.
  Use(UsageClause::kOrderBy, false, keys);
  if (stmt.unique || stmt.primary || stmt.n_exclude_op_names > 0) Use(UsageClause::kUniqueCheck, false, keys);
  if (stmt.where_clause != nullptr) Condition(stmt.where_clause, &scope, UsageClause::kWhere);
  out_.computed.MergeDerived(keys);
}

void Analyzer::Statistics(const PgQuery__CreateStatsStmt& stmt) {
  Scope scope;
  for (size_t i = 0; i < stmt.n_relations; ++i) {
    const PgQuery__Node* n = stmt.relations[i];
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) scope.items.push_back(Relation(*n->range_var));
  }
  Lineage columns;
  for (size_t i = 0; i < stmt.n_exprs; ++i) {
    const PgQuery__Node* n = stmt.exprs[i];
    if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_STATS_ELEM) {
      columns = Lineage::Everything();
      continue;
    }
    columns.MergeDerived(ElementLineage(n->stats_elem->name, n->stats_elem->expr, scope));
  }
  // The statistics hold the most common values and how often they go together, which the
  // planner's estimates then answer questions with.
  Use(UsageClause::kGroupBy, false, columns);
  out_.computed.MergeDerived(columns);
}

Lineage Analyzer::ElementLineage(const char* name, const PgQuery__Node* expr, const Scope& scope) {
  return expr != nullptr ? Expr(expr, &scope).AsDerived() : ColumnByName(&scope, Str(name), nullptr);
}

void Analyzer::Recomputed(const PgQuery__RangeVar* relation) {
  if (relation != nullptr) out_.computed.MergeDerived(WholeRow(Relation(*relation)));
}

Lineage Analyzer::AssignmentSubscripts(const PgQuery__Node* target, const Scope* scope) {
  Lineage acc;
  if (target == nullptr || target->node_case != PG_QUERY__NODE__NODE_RES_TARGET) return acc;
  const PgQuery__ResTarget& t = *target->res_target;
  // Field names (`SET c.f = ...`) are String nodes and carry nothing.
  for (size_t i = 0; i < t.n_indirection; ++i) acc.MergeDerived(Expr(t.indirection[i], scope));
  return acc;
}

std::vector<OutputColumn> Analyzer::Insert(const PgQuery__InsertStmt& stmt, const Scope* outer) {
  out_.writes_rows = true;
  const size_t ctes = ctes_.size();
  PushWith(stmt.with_clause, outer);
  RangeItem target = Relation(*stmt.relation, /*may_be_cte=*/false);
  const std::string table = TableName(target, *stmt.relation);
  RefuseSettingsView(*stmt.relation);
  std::vector<std::string> columns;
  for (size_t i = 0; i < stmt.n_cols; ++i) {
    const PgQuery__Node* c = stmt.cols[i];
    if (c != nullptr && c->node_case == PG_QUERY__NODE__NODE_RES_TARGET) columns.emplace_back(Str(c->res_target->name));
  }
  if (columns.empty()) {
    for (const RangeColumn& c : target.columns) columns.push_back(c.unlisted ? "?" : c.name);
    Store(target, nullptr);
  } else {
    for (const std::string& c : columns) {
      const std::string_view column = c;
      Store(target, &column);
    }
  }
  std::vector<OutputColumn> source;
  if (stmt.select_stmt != nullptr) source = Query(stmt.select_stmt, outer);
  for (size_t i = 0; i < source.size(); ++i) {
    const std::string_view column = i < columns.size() ? std::string_view(columns[i]) : "?";
    Write(absl::StrFormat("table %s (column %s)", table, column), source[i].lineage);
  }
  for (size_t i = 0; i < stmt.n_cols; ++i) {
    Write(absl::StrFormat("table %s (column %s)", table, i < columns.size() ? std::string_view(columns[i]) : "?"),
          AssignmentSubscripts(stmt.cols[i], outer));
  }
  Scope scope{outer, {target}, target.columns};
  if (stmt.on_conflict_clause != nullptr) {
    // EXCLUDED holds the rows being inserted.
    RangeItem excluded{"", "excluded", {}};
    for (size_t i = 0; i < columns.size(); ++i) excluded.columns.push_back({columns[i], OutputAt(source, i), false});
    Scope conflict{outer, {target, excluded}, {}};
    const PgQuery__OnConflictClause& oc = *stmt.on_conflict_clause;
    WriteColumns(target, oc.target_list, oc.n_target_list, conflict);
    if (oc.where_clause != nullptr) Condition(oc.where_clause, &conflict, UsageClause::kWhere);
  }
  std::vector<OutputColumn> out;
  Targets(stmt.returning_list, stmt.n_returning_list, scope, out);
  ctes_.resize(ctes);
  return out;
}

std::vector<OutputColumn> Analyzer::Update(const PgQuery__UpdateStmt& stmt, const Scope* outer) {
  out_.writes_rows = true;
  const size_t ctes = ctes_.size();
  PushWith(stmt.with_clause, outer);
  RangeItem target = Relation(*stmt.relation, /*may_be_cte=*/false);
  Scope scope{outer, {target}, target.columns};
  for (size_t i = 0; i < stmt.n_from_clause; ++i) {
    std::vector<RangeColumn> star;
    FromItem(stmt.from_clause[i], scope, star);
    scope.star.insert(scope.star.end(), star.begin(), star.end());
  }
  target.name = TableName(target, *stmt.relation);
  RefuseSettingsView(*stmt.relation);
  WriteColumns(target, stmt.target_list, stmt.n_target_list, scope);
  if (stmt.where_clause != nullptr) Condition(stmt.where_clause, &scope, UsageClause::kWhere);
  std::vector<OutputColumn> out;
  Targets(stmt.returning_list, stmt.n_returning_list, scope, out);
  ctes_.resize(ctes);
  return out;
}

std::vector<OutputColumn> Analyzer::Delete(const PgQuery__DeleteStmt& stmt, const Scope* outer) {
  out_.writes_rows = true;
  const size_t ctes = ctes_.size();
  PushWith(stmt.with_clause, outer);
  RangeItem target = Relation(*stmt.relation, /*may_be_cte=*/false);
  Scope scope{outer, {target}, target.columns};
  for (size_t i = 0; i < stmt.n_using_clause; ++i) {
    std::vector<RangeColumn> star;
    FromItem(stmt.using_clause[i], scope, star);
    scope.star.insert(scope.star.end(), star.begin(), star.end());
  }
  if (stmt.where_clause != nullptr) Condition(stmt.where_clause, &scope, UsageClause::kWhere);
  std::vector<OutputColumn> out;
  Targets(stmt.returning_list, stmt.n_returning_list, scope, out);
  ctes_.resize(ctes);
  return out;
}

void Analyzer::Merge(const PgQuery__MergeStmt& stmt, const Scope* outer) {
  out_.writes_rows = true;
  const size_t ctes = ctes_.size();
  PushWith(stmt.with_clause, outer);
  RangeItem target = Relation(*stmt.relation, /*may_be_cte=*/false);
  Scope scope{outer, {target}, {}};
  std::vector<RangeColumn> star;
  FromItem(stmt.source_relation, scope, star);
  if (stmt.join_condition != nullptr) Condition(stmt.join_condition, &scope, UsageClause::kJoin);
  target.name = TableName(target, *stmt.relation);
  for (size_t i = 0; i < stmt.n_merge_when_clauses; ++i) {
    const PgQuery__Node* n = stmt.merge_when_clauses[i];
    if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE) continue;
    const PgQuery__MergeWhenClause& when = *n->merge_when_clause;
    if (when.condition != nullptr) Condition(when.condition, &scope, UsageClause::kWhere);
    if (when.command_type == PG_QUERY__CMD_TYPE__CMD_UPDATE) {
      WriteColumns(target, when.target_list, when.n_target_list, scope);
    } else if (when.command_type == PG_QUERY__CMD_TYPE__CMD_INSERT) {
      for (size_t v = 0; v < when.n_values; ++v) {
        const std::string_view column =
            v < when.n_target_list && when.target_list[v]->node_case == PG_QUERY__NODE__NODE_RES_TARGET
                ? Str(when.target_list[v]->res_target->name)
                : std::string_view("?");
        Lineage lineage = Expr(when.values[v], &scope);
        if (v < when.n_target_list) lineage.MergeDerived(AssignmentSubscripts(when.target_list[v], &scope));
        Write(absl::StrFormat("table %s (column %s)", target.name, column), lineage);
        Store(target, v < when.n_target_list ? &column : nullptr);
      }
      if (when.n_values == 0) Store(target, nullptr);  // INSERT DEFAULT VALUES
    }
  }
  ctes_.resize(ctes);
}

void Analyzer::Copy(const PgQuery__CopyStmt& stmt) {
  if (stmt.is_program) Refuse("COPY to or from a program runs a command on the database server");
  // protobuf-c gives an absent file name as "": STDIN/STDOUT.
  if (!stmt.is_program && !Str(stmt.filename).empty()) {
    Refuse("COPY to or from a file reads or writes files on the database server");
  }
  if (stmt.is_from) {
    // WHERE runs on the client's incoming rows, not on stored ones.
    if (stmt.where_clause != nullptr) StoredExpressions(*stmt.where_clause, nullptr);
    if (stmt.relation == nullptr) return;
    const RangeItem table = Relation(*stmt.relation);
    if (stmt.n_attlist == 0) Store(table, nullptr);
    for (const std::string_view column : Names(stmt.attlist, stmt.n_attlist)) Store(table, &column);
    return;
  }
  if (stmt.query != nullptr) {
    out_.outputs = Query(stmt.query, nullptr);
    return;
  }
  if (stmt.relation == nullptr) return;
  const RangeItem table = Relation(*stmt.relation);
  if (stmt.n_attlist == 0) {
    // COPY leaves generated columns out unless they are listed (copy_statement.h describes the
    // same columns).
    std::vector<RangeColumn> sent;
    for (const RangeColumn& c : table.columns) {
      if (c.stored == nullptr || !c.stored->generated) sent.push_back(c);
    }
    out_.outputs = ToOutputs(sent);
    return;
  }
  const Scope scope{nullptr, {table}, {}};
  for (const std::string_view column : Names(stmt.attlist, stmt.n_attlist)) {
    bool resolved = false;
    out_.outputs.push_back({std::string(column), ColumnByName(&scope, column, &resolved), false});
  }
}

void Analyzer::RefuseSettingsView(const PgQuery__RangeVar& target) {
  // Writing pg_settings calls set_config with names and values only known at run time.
  if (Str(target.relname) == "pg_settings") Refuse("changing settings through pg_settings is not allowed");
}

void Analyzer::Setting(const PgQuery__VariableSetStmt& stmt) {
  // PostgreSQL matches setting names without regard to case: SET "SEARCH_PATH" is search_path.
  const std::string name = absl::AsciiStrToLower(ToAbsl(Str(stmt.name)));
  switch (stmt.kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
      std::vector<std::string> parts;
      bool literal = true;
      for (size_t i = 0; i < stmt.n_args; ++i) {
        std::optional<std::string> text = Literal(stmt.args[i]);
        literal = literal && text.has_value();
        if (text) parts.push_back(*std::move(text));
      }
      std::optional<std::string> value;
      if (literal) value = absl::StrJoin(parts, ", ");
      if (std::optional<std::string> reason = SettingChangeReason(name, value)) Refuse(*std::move(reason));
      out_.settings.push_back({name, std::move(value)});
      return;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
      // Back to the session's defaults, which the proxy checked at startup; RESET ALL has no name.
      out_.settings.push_back({name, std::nullopt});
      return;
    default:
      // SET TRANSACTION ..., SET ... FROM CURRENT: nothing pgmask depends on.
      return;
  }
}

void Analyzer::Use(UsageClause clause, bool equality_only, const Lineage& lineage) {
  if (!record_usages_ || (lineage.direct().empty() && lineage.derived().empty() && !lineage.everything())) return;
  ColumnUsage usage{clause, equality_only && !lineage.everything(), lineage.Columns(), lineage.everything()};
  for (const ColumnUsage& u : out_.usages) {
    if (u == usage) return;
  }
  out_.usages.push_back(std::move(usage));
}

void Analyzer::Fallible(const Lineage& input) {
  if (record_usages_) fallible_.MergeDerived(input);
}

void Analyzer::Refuse(std::string reason) {
  for (const std::string& r : out_.refusals) {
    if (r == reason) return;
  }
  out_.refusals.push_back(std::move(reason));
}

void Analyzer::Write(std::string target, const Lineage& lineage) {
  if (lineage.empty()) return;
  out_.writes.push_back({std::move(target), lineage});
}

const CatalogColumn* Analyzer::ProtectedCatalogColumn(ProtectedColumnId id) const {
  const TableRule& table = policy_.tables()[id.table_index];
  const CatalogRelation* relation = catalog_.Find(table.schema, table.name);
  if (relation == nullptr) return nullptr;
  for (const CatalogColumn& c : relation->columns) {
    if (c.name == table.columns[id.column_index].name) return &c;
  }
  return nullptr;
}

std::vector<const RangeColumn*> Analyzer::GeneratedFrom(const RangeItem& target, const CatalogColumn& source) {
  std::vector<const RangeColumn*> generated;
  for (const RangeColumn& g : target.columns) {
    if (g.stored == nullptr || g.stored == &source) continue;
    const std::vector<int16_t>& from = g.stored->generated_from;
    if (std::find(from.begin(), from.end(), source.attnum) != from.end()) generated.push_back(&g);
  }
  return generated;
}

void Analyzer::Store(const RangeItem& target, const std::string_view* column) {
  // The write is compared with every row's value of a column in a unique index (a conflict, or
  // ON CONFLICT DO NOTHING's row count, answers "is this value there?") and looked up in what a
  // foreign key references.
  const auto constraints = [&](const CatalogColumn& checked, const Lineage& written) {
    if (checked.unique) Use(UsageClause::kUniqueCheck, false, written);
    Use(UsageClause::kForeignKeyCheck, false, ReferencedLineage(checked));
  };
  const RangeColumn* unlisted = nullptr;
  for (const RangeColumn& c : target.columns) {
    if (c.unlisted) unlisted = &c;
    const bool stored = column == nullptr || (!c.unlisted && c.name == *column);
    if (stored) out_.stored.Merge(c.lineage);
    if (stored && c.stored != nullptr) {
      constraints(*c.stored, c.lineage);
      // A row written through a partitioned or inheritance parent lands in (or an UPDATE reaches)
      // a child, whose own unique indexes and foreign keys check it.
      for (const CatalogColumn* below : c.below) constraints(*below, c.lineage);
      // PostgreSQL recomputes the generated columns that read it, and checks them in its place.
      for (const RangeColumn* g : GeneratedFrom(target, *c.stored)) constraints(*g->stored, g->lineage);
    } else if (stored) {
      // Through a view the write lands in the column the view shows. (An unlisted column, of a
      // relation pgmask does not know, holds only what the session put there.)
      if (!c.unlisted && !c.lineage.empty() && !c.lineage.everything()) {
        const std::optional<ProtectedColumnId> base = c.lineage.DirectColumn();
        const CatalogColumn* checked = base ? ProtectedCatalogColumn(*base) : nullptr;
        if (checked != nullptr) {
          constraints(*checked, c.lineage);
        } else {
          // A column pgmask cannot place may have any index or foreign key.
          Use(UsageClause::kUniqueCheck, false, c.lineage);
        }
      }
      Use(UsageClause::kForeignKeyCheck, false, target.view_foreign_keys);
    }
    if (column != nullptr && !c.unlisted && c.name == *column) return;
  }
  // A column the catalog does not list may be any of the unlisted ones.
  if (column != nullptr && unlisted != nullptr) out_.stored.Merge(unlisted->lineage);
}

}  // namespace analysis_internal

std::vector<StatementAnalysis> AnalyzeStatements(const ParsedSql& sql, const Policy& policy,
                                                 const CatalogView& catalog) {
  std::vector<StatementAnalysis> result;
  const PgQuery__ParseResult& tree = sql.tree();
  result.reserve(tree.n_stmts);
  for (size_t i = 0; i < tree.n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree.stmts[i];
    StatementAnalysis& analysis = result.emplace_back();
    analysis.location = raw->stmt_location;
    analysis.length = raw->stmt_len;
    if (raw->stmt == nullptr) continue;
    analysis_internal::Analyzer(policy, catalog, analysis).Statement(*raw->stmt);
  }
  return result;
}

}  // namespace pgmask::policy
