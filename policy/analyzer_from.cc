// FROM items, relations (tables, views, partitions), CTEs.
#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "policy/analyzer.h"
#include "policy/analyzer_internal.h"
#include "policy/function_rules.h"
#include "policy/name_resolution.h"
#include "policy/sql_parse.h"

namespace pgmask::policy::analysis_internal {
namespace {

const RangeColumn* FindColumn(const std::vector<RangeColumn>& columns, std::string_view name) {
  for (const RangeColumn& c : columns) {
    if (!c.unlisted && c.name == name) return &c;
  }
  return nullptr;
}

std::vector<RangeColumn> FromOutputs(const std::vector<OutputColumn>& outputs) {
  std::vector<RangeColumn> columns;
  columns.reserve(outputs.size());
  for (const OutputColumn& o : outputs) columns.push_back({o.name, o.lineage, o.unlisted});
  return columns;
}

// Gives columns the names of a column alias list, by position, as PostgreSQL does. Past an
// unlisted column (a number of columns the analysis cannot count) positions are unknown: the
// names there exist but may stand for any of the rest, and the rest's own names may be gone. So
// the rest becomes those names and one unlisted column, each as strict as all of the rest:
// never a name PostgreSQL would not find at this level, never one without the lineage it has.
template <typename Column>
void RenameByPosition(const std::vector<std::string_view>& names, std::vector<Column>& columns) {
  size_t i = 0;
  for (; i < names.size() && i < columns.size() && !columns[i].unlisted; ++i) columns[i].name = names[i];
  if (i == names.size() || i == columns.size()) return;
  Lineage rest;
  for (size_t j = i; j < columns.size(); ++j) rest.Merge(columns[j].lineage);
  columns.resize(i);
  for (size_t j = i; j <= names.size(); ++j) {
    Column& c = columns.emplace_back();
    c.name = j < names.size() ? std::string(names[j]) : std::string("*");
    c.lineage = rest;
    c.unlisted = j == names.size();
  }
}

}  // namespace

Lineage NamedColumn(const std::vector<RangeColumn>& columns, std::string_view name) {
  if (const RangeColumn* c = FindColumn(columns, name)) return c->lineage;
  Lineage open;
  for (const RangeColumn& c : columns) {
    if (c.unlisted) open.Merge(c.lineage);
  }
  return open;
}

const RangeItem* FindItem(const Scope* scope, std::string_view schema, std::string_view name) {
  for (const Scope* s = scope; s != nullptr; s = s->parent) {
    for (const RangeItem& item : s->items) {
      if (!item.name.empty() && item.name == name && (schema.empty() || item.schema == schema)) return &item;
    }
  }
  return nullptr;
}

Lineage WholeRow(const RangeItem& item) {
  Lineage l;
  for (const RangeColumn& c : item.columns) l.MergeDerived(c.lineage);
  return l;
}

void RenameColumns(const PgQuery__Alias* alias, std::vector<RangeColumn>& columns) {
  if (alias != nullptr) RenameByPosition(Names(alias->colnames, alias->n_colnames), columns);
}

void Analyzer::FromItem(const PgQuery__Node* node, Scope& scope, std::vector<RangeColumn>& star) {
  DepthGuard guard(*this);
  if (node == nullptr) return;
  if (guard.exceeded()) {
    RangeItem item{"", "", {{"*", Lineage::Everything(), true}}};
    star.insert(star.end(), item.columns.begin(), item.columns.end());
    scope.items.push_back(std::move(item));
    return;
  }
  switch (node->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR: {
      RangeItem item = Relation(*node->range_var);
      star.insert(star.end(), item.columns.begin(), item.columns.end());
      scope.items.push_back(std::move(item));
      return;
    }
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
      const PgQuery__RangeSubselect& sub = *node->range_subselect;
      // Only LATERAL subqueries see the FROM items before them.
      std::vector<OutputColumn> outputs = Query(sub.subquery, sub.lateral ? &scope : scope.parent);
      RangeItem item{"", sub.alias != nullptr ? std::string(Str(sub.alias->aliasname)) : "", FromOutputs(outputs)};
      RenameColumns(sub.alias, item.columns);
      star.insert(star.end(), item.columns.begin(), item.columns.end());
      scope.items.push_back(std::move(item));
      return;
    }
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
      FunctionItem(*node->range_function, scope, star);
      return;
    case PG_QUERY__NODE__NODE_RANGE_TABLE_SAMPLE: {
      const PgQuery__RangeTableSample& sample = *node->range_table_sample;
      FromItem(sample.relation, scope, star);
      for (size_t i = 0; i < sample.n_args; ++i) Use(UsageClause::kCondition, false, Expr(sample.args[i], &scope));
      // The REPEATABLE seed picks the rows as much as the percentage does.
      if (sample.repeatable != nullptr) Use(UsageClause::kCondition, false, Expr(sample.repeatable, &scope));
      return;
    }
    case PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC: {
      // XMLTABLE: every column is computed from the document.
      const PgQuery__RangeTableFunc& tf = *node->range_table_func;
      Lineage source = Expr(tf.docexpr, &scope).AsDerived();
      source.MergeDerived(Expr(tf.rowexpr, &scope));
      // XMLNAMESPACES: each URI is an expression too, and a NULL one is an error.
      for (size_t i = 0; i < tf.n_namespaces; ++i) {
        const PgQuery__Node* ns = tf.namespaces[i];
        const bool target = ns != nullptr && ns->node_case == PG_QUERY__NODE__NODE_RES_TARGET;
        source.MergeDerived(target ? Expr(ns->res_target->val, &scope) : Expr(ns, &scope));
      }
      Fallible(source);  // the document is parsed, the row expression compiled as XPath
      RangeItem item{"", tf.alias != nullptr ? std::string(Str(tf.alias->aliasname)) : "", {}};
      for (size_t i = 0; i < tf.n_columns; ++i) {
        const PgQuery__Node* c = tf.columns[i];
        if (c == nullptr || c->node_case != PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC_COL) continue;
        // A column's PATH is compiled as XPath, and what it matches decides whether the column
        // is NULL (an error when NOT NULL) and is converted to the column's type, which can fail.
        Lineage path = Expr(c->range_table_func_col->colexpr, &scope).AsDerived();
        path.MergeDerived(Expr(c->range_table_func_col->coldefexpr, &scope));
        Fallible(path);
        Use(UsageClause::kCondition, false, path);
        Lineage column = source;
        column.MergeDerived(path);
        item.columns.push_back({std::string(Str(c->range_table_func_col->colname)), std::move(column), false});
      }
      RenameColumns(tf.alias, item.columns);
      star.insert(star.end(), item.columns.begin(), item.columns.end());
      scope.items.push_back(std::move(item));
      return;
    }
    case PG_QUERY__NODE__NODE_JOIN_EXPR:
      Join(*node->join_expr, scope, star);
      return;
    default: {
      // A FROM item this analyzer does not know: untraceable.
      RangeItem item{"", "", {{"*", Lineage::Everything(), true}}};
      star.insert(star.end(), item.columns.begin(), item.columns.end());
      scope.items.push_back(std::move(item));
      return;
    }
  }
}

void Analyzer::Join(const PgQuery__JoinExpr& join, Scope& scope, std::vector<RangeColumn>& star) {
  const size_t first = scope.items.size();
  std::vector<RangeColumn> left;
  std::vector<RangeColumn> right;
  FromItem(join.larg, scope, left);
  FromItem(join.rarg, scope, right);
  if (join.quals != nullptr) {
    // ON sees the join's own inputs and the enclosing query levels, not earlier FROM items.
    Scope on{scope.parent, {scope.items.begin() + static_cast<ptrdiff_t>(first), scope.items.end()}, {}};
    Condition(join.quals, &on, UsageClause::kJoin);
  }
  auto has_unlisted = [](const std::vector<RangeColumn>& side) {
    return std::any_of(side.begin(), side.end(), [](const RangeColumn& c) { return c.unlisted; });
  };
  if (join.is_natural && (has_unlisted(left) || has_unlisted(right))) {
    // NATURAL joins on every name the two sides share and lists those columns first. A side whose
    // columns are not all known (a set-returning function, a table the catalog does not list)
    // may share any name: every column may be in the join condition, and the order of the join's
    // columns is unknown, so they are one unlisted column as strict as all of them.
    Lineage all;
    for (const std::vector<RangeColumn>* side : {&left, &right}) {
      for (const RangeColumn& c : *side) {
        Use(UsageClause::kJoin, false, c.lineage);
        all.MergeDerived(c.lineage);
      }
    }
    std::vector<RangeColumn> columns{{"*", std::move(all), true}};
    if (join.alias != nullptr) {
      RangeItem item{"", std::string(Str(join.alias->aliasname)), columns};
      scope.items.erase(scope.items.begin() + static_cast<ptrdiff_t>(first), scope.items.end());
      scope.items.push_back(std::move(item));
    }
    star.insert(star.end(), columns.begin(), columns.end());
    return;
  }
  std::vector<std::string> merged_names;
  if (join.is_natural) {
    for (const RangeColumn& l : left) {
      if (!l.unlisted && FindColumn(right, l.name) != nullptr) merged_names.push_back(l.name);
    }
  } else {
    for (const std::string_view n : Names(join.using_clause, join.n_using_clause)) merged_names.emplace_back(n);
  }
  // USING and NATURAL: each merged column once, first; then the rest of each side.
  std::vector<RangeColumn> columns;
  for (const std::string& name : merged_names) {
    const Lineage l = NamedColumn(left, name);
    const Lineage r = NamedColumn(right, name);
    Lineage both = l;
    both.Merge(r);
    Use(UsageClause::kJoin, l.DirectColumn().has_value() && r.DirectColumn().has_value(), both);
    columns.push_back({name, std::move(both), false});
  }
  auto merged = [&](const RangeColumn& c) {
    return !c.unlisted && std::find(merged_names.begin(), merged_names.end(), c.name) != merged_names.end();
  };
  for (const RangeColumn& c : left) {
    if (!merged(c)) columns.push_back(c);
  }
  for (const RangeColumn& c : right) {
    if (!merged(c)) columns.push_back(c);
  }
  if (join.join_using_alias != nullptr) {
    // JOIN ... USING (a) AS j: j.a names the merged column.
    RangeItem using_item{"", std::string(Str(join.join_using_alias->aliasname)), {}};
    using_item.columns.assign(columns.begin(), columns.begin() + static_cast<ptrdiff_t>(merged_names.size()));
    scope.items.push_back(std::move(using_item));
  }
  if (join.alias != nullptr) {
    // An aliased join hides the names inside it.
    RangeItem item{"", std::string(Str(join.alias->aliasname)), columns};
    RenameColumns(join.alias, item.columns);
    scope.items.erase(scope.items.begin() + static_cast<ptrdiff_t>(first), scope.items.end());
    columns = item.columns;
    scope.items.push_back(std::move(item));
  }
  star.insert(star.end(), columns.begin(), columns.end());
}

void Analyzer::FunctionItem(const PgQuery__RangeFunction& rf, Scope& scope, std::vector<RangeColumn>& star) {
  // Functions in FROM may refer to earlier FROM items (implicitly LATERAL). A built-in or trusted
  // function's rows derive from its arguments; FuncCall makes anything else untraceable.
  Lineage lineage;
  // In PostgreSQL's order: each function's columns, named by its column definition list where it
  // has one; otherwise their number and names are in the catalog, not the text (unlisted).
  std::vector<RangeColumn> columns;
  auto define = [&columns](PgQuery__Node* const* defs, size_t n) {
    for (size_t c = 0; c < n; ++c) {
      if (defs[c] != nullptr && defs[c]->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
        columns.push_back({std::string(Str(defs[c]->column_def->colname)), {}, false});
      }
    }
  };
  for (size_t i = 0; i < rf.n_functions; ++i) {
    const PgQuery__Node* entry = rf.functions[i];
    if (entry == nullptr || entry->node_case != PG_QUERY__NODE__NODE_LIST || entry->list->n_items == 0) continue;
    lineage.MergeDerived(Expr(entry->list->items[0], &scope));
    const PgQuery__Node* defs = entry->list->n_items > 1 ? entry->list->items[1] : nullptr;
    if (defs != nullptr && defs->node_case == PG_QUERY__NODE__NODE_LIST && defs->list->n_items > 0) {
      define(defs->list->items, defs->list->n_items);  // ROWS FROM (f() AS (a int, ...), ...)
    } else if (rf.n_functions == 1 && rf.n_coldeflist > 0) {
      define(rf.coldeflist, rf.n_coldeflist);  // f() AS t(a int, ...)
    } else {
      columns.push_back({"*", {}, true});
    }
  }
  for (RangeColumn& c : columns) c.lineage = lineage;
  if (rf.ordinality) columns.push_back({"ordinality", {}, false});
  std::string name;
  if (rf.alias != nullptr) {
    name = Str(rf.alias->aliasname);
  } else if (rf.n_functions == 1 && rf.functions[0]->node_case == PG_QUERY__NODE__NODE_LIST &&
             rf.functions[0]->list->n_items > 0) {
    name = FigureName(rf.functions[0]->list->items[0]).value_or("?column?");
  }
  RangeItem item{"", std::move(name), std::move(columns)};
  RenameColumns(rf.alias, item.columns);
  star.insert(star.end(), item.columns.begin(), item.columns.end());
  scope.items.push_back(std::move(item));
}

RangeItem Analyzer::Relation(const PgQuery__RangeVar& rv, bool may_be_cte) {
  const std::string_view schema = Str(rv.schemaname);
  const std::string_view name = Str(rv.relname);
  RangeItem item;
  item.name = rv.alias != nullptr ? Str(rv.alias->aliasname) : name;
  if (std::optional<std::string_view> reason = ForbiddenRelationReason(name)) {
    Refuse(absl::StrFormat("relation %s is not allowed: %s", name, *reason));
  }
  const CteEntry* cte = schema.empty() && may_be_cte ? FindCte(name) : nullptr;
  if (cte != nullptr) {
    if (cte->pending) {
      item.columns.push_back({"*", {}, true});
    } else {
      item.columns = FromOutputs(cte->outputs);
    }
  } else if (const CatalogRelation* rel = ResolveRelation(catalog_, schema, name)) {
    if (rv.alias == nullptr) item.schema = rel->schema;
    item.system_columns = rel->kind != RelationKind::kView;
    // Its row security policies' conditions run too, and their errors reach the statement.
    if (rel->row_security) out_.computed = Lineage::Everything();
    if (rel->kind == RelationKind::kView || rel->kind == RelationKind::kMaterializedView) {
      Lineage* const outer = std::exchange(view_foreign_keys_, &item.view_foreign_keys);
      item.columns = ViewColumns(*rel);
      view_foreign_keys_ = outer;
      if (outer != nullptr) outer->Merge(item.view_foreign_keys);
    } else {
      const std::vector<const CatalogRelation*> descendants = Descendants(*rel);
      for (const CatalogColumn& c : rel->columns) {
        RangeColumn& column = item.columns.emplace_back(RangeColumn{c.name, StoredColumnLineage(*rel, c), false, &c});
        for (const CatalogRelation* d : descendants) {
          for (const CatalogColumn& dc : d->columns) {
            if (dc.name == c.name) column.below.push_back(&dc);
          }
        }
        if (view_foreign_keys_ == nullptr) continue;
        view_foreign_keys_->Merge(ReferencedLineage(c));
        for (const CatalogColumn* dc : column.below) view_foreign_keys_->Merge(ReferencedLineage(*dc));
      }
    }
    if (!rel->columns_complete) item.columns.push_back({"*", {}, true});
  } else {
    // Unknown to a complete catalog: created in this very batch or since the catalog was read.
    item.columns.push_back({"*", catalog_.data().lists_every_relation ? Lineage::Everything() : Lineage(), true});
    if (catalog_.data().lists_every_relation) {
      out_.unknown_relations.push_back(schema.empty() ? std::string(name) : absl::StrFormat("%s.%s", schema, name));
      // A temporary table's row security policies, defaults and triggers are out of sight too.
      out_.computed = Lineage::Everything();
    }
  }
  RenameColumns(rv.alias, item.columns);
  return item;
}

Lineage Analyzer::ProtectionLineage(const CatalogRelation& relation, std::string_view column) {
  bool everything = false;
  const ProtectedColumnSet ids = ColumnProtection(catalog_, policy_, relation, column, everything);
  if (everything) return Lineage::Everything();
  Lineage l;
  for (ProtectedColumnId id : ids.ids()) l.Merge(Lineage::Direct(id));
  return l;
}

Lineage Analyzer::StoredColumnLineage(const CatalogRelation& relation, const CatalogColumn& column) {
  Lineage l = ProtectionLineage(relation, column.name);
  for (const int16_t source : column.generated_from) {
    for (const CatalogColumn& c : relation.columns) {
      if (c.attnum == source) l.MergeDerived(ProtectionLineage(relation, c.name));
    }
  }
  return l;
}

std::vector<const CatalogRelation*> Analyzer::Descendants(const CatalogRelation& relation) const {
  const std::vector<const CatalogRelation*>& children = catalog_.Children(relation);
  std::vector<const CatalogRelation*> out(children.begin(), children.end());
  for (size_t i = 0; i < out.size() && out.size() <= kMaxInheritanceRelations; ++i) {
    for (const CatalogRelation* c : catalog_.Children(*out[i])) out.push_back(c);
  }
  return out;
}

Lineage Analyzer::ReferencedLineage(const CatalogColumn& column) {
  Lineage l;
  for (const CatalogColumn::Reference& r : column.references) {
    const CatalogRelation* target = ResolveRelation(catalog_, r.schema, r.table);
    l.Merge(target != nullptr ? ProtectionLineage(*target, r.column) : Lineage::Everything());
  }
  return l;
}

std::vector<RangeColumn> Analyzer::ViewColumns(const CatalogRelation& view) {
  std::vector<RangeColumn> columns;
  for (const CatalogColumn& c : view.columns) columns.push_back({c.name, ProtectionLineage(view, c.name), false});
  auto untraceable = [&] {
    for (RangeColumn& c : columns) c.lineage = Lineage::Everything();
    return columns;
  };
  if (view_depth_ >= kMaxViewNesting) return untraceable();
  absl::StatusOr<ParsedSql> parsed = ParsedSql::Parse(view.view_definition);
  if (!parsed.ok() || parsed->tree().n_stmts != 1 || parsed->tree().stmts[0]->stmt == nullptr) return untraceable();
  std::vector<OutputColumn> outputs;
  {
    // A view's definition sees none of the statement's CTEs, and its filters are not the
    // session's predicates.
    std::vector<CteEntry> statement_ctes = std::exchange(ctes_, {});
    const bool record = std::exchange(record_usages_, false);
    ++view_depth_;
    outputs = Query(parsed->tree().stmts[0]->stmt, nullptr);
    --view_depth_;
    record_usages_ = record;
    ctes_ = std::move(statement_ctes);
  }
  bool unlisted = false;
  for (const OutputColumn& o : outputs) unlisted = unlisted || o.unlisted;
  if (unlisted || outputs.size() != columns.size()) return untraceable();
  for (size_t i = 0; i < columns.size(); ++i) columns[i].lineage.Merge(outputs[i].lineage);
  return columns;
}

size_t Analyzer::PushWith(const PgQuery__WithClause* with, const Scope* outer) {
  if (with == nullptr) return 0;
  const size_t base = ctes_.size();
  // The CTE's columns, then those SEARCH and CYCLE add: the search order holds the searched
  // columns' values, the cycle path the compared ones', and the cycle mark says whether they
  // repeated.
  auto analyze = [&](const PgQuery__CommonTableExpr& cte) {
    std::vector<OutputColumn> outputs = Query(cte.ctequery, outer);
    RenameByPosition(Names(cte.aliascolnames, cte.n_aliascolnames), outputs);
    auto values_of = [&outputs](PgQuery__Node* const* list, size_t n) {
      const std::vector<RangeColumn> columns = FromOutputs(outputs);
      Lineage l;
      for (std::string_view name : Names(list, n)) l.MergeDerived(NamedColumn(columns, name));
      return l;
    };
    if (const PgQuery__CTESearchClause* search = cte.search_clause) {
      Lineage order = values_of(search->search_col_list, search->n_search_col_list);
      outputs.push_back({std::string(Str(search->search_seq_column)), std::move(order), false});
    }
    if (const PgQuery__CTECycleClause* cycle = cte.cycle_clause) {
      const Lineage compared = values_of(cycle->cycle_col_list, cycle->n_cycle_col_list);
      outputs.push_back({std::string(Str(cycle->cycle_mark_column)), compared, false});
      outputs.push_back({std::string(Str(cycle->cycle_path_column)), compared, false});
    }
    return outputs;
  };
  // CYCLE compares each new row's listed columns with those of the rows before it, and stops
  // there: the row count answers whether a value equals another branch's, a literal perhaps.
  auto cycle = [&](const PgQuery__CommonTableExpr& cte, const std::vector<OutputColumn>& outputs) {
    if (cte.cycle_clause == nullptr) return;
    const std::vector<RangeColumn> columns = FromOutputs(outputs);
    Lineage compared;
    for (std::string_view name : Names(cte.cycle_clause->cycle_col_list, cte.cycle_clause->n_cycle_col_list)) {
      compared.MergeDerived(NamedColumn(columns, name));
    }
    Use(UsageClause::kCondition, false, compared);
  };
  std::vector<const PgQuery__CommonTableExpr*> ctes;
  for (size_t i = 0; i < with->n_ctes; ++i) {
    const PgQuery__Node* n = with->ctes[i];
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) ctes.push_back(n->common_table_expr);
  }
  if (!with->recursive) {
    // Each CTE sees the ones before it.
    for (const PgQuery__CommonTableExpr* cte : ctes) {
      std::vector<OutputColumn> outputs = analyze(*cte);
      cycle(*cte, outputs);
      ctes_.push_back({std::string(Str(cte->ctename)), std::move(outputs), false});
    }
    return ctes_.size() - base;
  }
  // WITH RECURSIVE: every CTE sees every other and itself. Lineage only grows from pass to
  // pass, so repeating until nothing changes reaches the fixed point.
  for (const PgQuery__CommonTableExpr* cte : ctes) ctes_.push_back({std::string(Str(cte->ctename)), {}, true});
  bool changed = true;
  for (int pass = 0; pass < kMaxRecursivePasses && changed; ++pass) {
    changed = false;
    for (size_t i = 0; i < ctes.size(); ++i) {
      std::vector<OutputColumn> outputs = analyze(*ctes[i]);
      CteEntry& entry = ctes_[base + i];
      if (entry.pending || !(outputs == entry.outputs)) {
        entry.outputs = std::move(outputs);
        entry.pending = false;
        changed = true;
      }
    }
  }
  if (changed) {
    for (size_t i = base; i < ctes_.size(); ++i) {
      for (OutputColumn& o : ctes_[i].outputs) o.lineage = Lineage::Everything();
    }
  }
  for (size_t i = 0; i < ctes.size(); ++i) cycle(*ctes[i], ctes_[base + i].outputs);
  return ctes_.size() - base;
}

bool Analyzer::CtePending() const {
  for (const CteEntry& cte : ctes_) {
    if (cte.pending) return true;
  }
  return false;
}

const CteEntry* Analyzer::FindCte(std::string_view name) const {
  for (auto it = ctes_.rbegin(); it != ctes_.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

}  // namespace pgmask::policy::analysis_internal
