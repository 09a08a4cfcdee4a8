#include "policy/output_references.h"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <string_view>

namespace pgmask::policy {
namespace {

struct TableRef {
  std::string_view schema;
  std::string_view name;
  std::string_view alias;  // empty when none
};

struct ColumnRefInfo {
  std::vector<std::string_view> names;  // qualifiers then the column (no column when star)
  bool star = false;
};

std::string_view Str(const char* s) { return s == nullptr ? std::string_view() : std::string_view(s); }

// Walks any libpg_query protobuf message generically through its descriptor, so no node type can
// be skipped by forgetting it; only the few that carry names get special handling.
class Collector {
 public:
  void Visit(const ProtobufCMessage* msg, bool output) {
    if (msg == nullptr) return;
    const ProtobufCMessageDescriptor* d = msg->descriptor;
    if (d == &pg_query__range_var__descriptor) {
      const auto* rv = reinterpret_cast<const PgQuery__RangeVar*>(msg);
      tables.push_back({Str(rv->schemaname), Str(rv->relname), rv->alias ? Str(rv->alias->aliasname) : ""});
      return;
    }
    if (d == &pg_query__column_ref__descriptor) {
      if (output) AddColumnRef(reinterpret_cast<const PgQuery__ColumnRef*>(msg));
      return;
    }
    if (d == &pg_query__copy_stmt__descriptor) {
      VisitCopy(reinterpret_cast<const PgQuery__CopyStmt*>(msg));
      return;
    }
    const bool select = d == &pg_query__select_stmt__descriptor;
    const bool modify = d == &pg_query__insert_stmt__descriptor || d == &pg_query__update_stmt__descriptor ||
                        d == &pg_query__delete_stmt__descriptor || d == &pg_query__merge_stmt__descriptor;
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const ProtobufCFieldDescriptor& f = d->fields[i];
      if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
      bool child_output = output;
      if (select) child_output = std::string_view(f.name) == "target_list";
      if (modify) child_output = std::string_view(f.name) == "returning_list";
      const char* base = reinterpret_cast<const char*>(msg);
      if (f.label == PROTOBUF_C_LABEL_REPEATED) {
        const size_t n = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
        const auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
        for (size_t k = 0; k < n; ++k) Visit(items[k], child_output);
        continue;
      }
      if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
          *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id) {
        continue;
      }
      Visit(*reinterpret_cast<ProtobufCMessage* const*>(base + f.offset), child_output);
    }
  }

  std::vector<TableRef> tables;
  std::vector<ColumnRefInfo> columns;

 private:
  void AddColumnRef(const PgQuery__ColumnRef* ref) {
    ColumnRefInfo info;
    for (size_t i = 0; i < ref->n_fields; ++i) {
      const PgQuery__Node* n = ref->fields[i];
      if (n->node_case == PG_QUERY__NODE__NODE_STRING) {
        info.names.push_back(Str(n->string->sval));
      } else if (n->node_case == PG_QUERY__NODE__NODE_A_STAR) {
        info.star = true;
      }
    }
    columns.push_back(std::move(info));
  }

  void VisitCopy(const PgQuery__CopyStmt* copy) {
    if (copy->query != nullptr) Visit(&copy->query->base, true);
    if (copy->relation == nullptr) return;
    const PgQuery__RangeVar* rv = copy->relation;
    const std::string_view name = Str(rv->relname);
    tables.push_back({Str(rv->schemaname), name, ""});
    if (copy->is_from) return;  // COPY FROM writes into the table; nothing comes out
    if (copy->n_attlist == 0) {
      columns.push_back({{name}, true});
      return;
    }
    for (size_t i = 0; i < copy->n_attlist; ++i) {
      const PgQuery__Node* n = copy->attlist[i];
      if (n->node_case == PG_QUERY__NODE__NODE_STRING) columns.push_back({{name, Str(n->string->sval)}, false});
    }
  }
};

class Resolver {
 public:
  Resolver(const Policy& policy, const std::vector<TableRef>& tables) : policy_(policy), tables_(tables) {}

  void Resolve(const ColumnRefInfo& ref, std::vector<ProtectedReference>& out) const {
    const size_t n = ref.names.size();
    if (ref.star) {
      if (n == 0) {
        for (const TableRef& t : tables_) AddAllColumns(t, out);
        return;
      }
      ForQualified(ref.names[n - 1], n >= 2 ? ref.names[n - 2] : "", [&](const TableRef& t) { AddAllColumns(t, out); });
      return;
    }
    if (n == 0) return;
    const std::string_view column = ref.names[n - 1];
    if (n == 1) {
      // A bare name may be a whole-row reference to a table or alias (`SELECT p FROM patients p`).
      for (const TableRef& t : tables_) {
        if (Names(t, column)) AddAllColumns(t, out);
        AddColumn(t, column, out);
      }
      return;
    }
    ForQualified(ref.names[n - 2], n >= 3 ? ref.names[n - 3] : "", [&](const TableRef& t) { AddColumn(t, column, out); });
  }

 private:
  static bool Names(const TableRef& t, std::string_view qualifier) {
    return t.alias.empty() ? t.name == qualifier : t.alias == qualifier;
  }

  // Calls fn for the tables a qualifier names; every table when it names none we know (a CTE or
  // subquery alias), which over-approximates safely.
  template <typename Fn>
  void ForQualified(std::string_view qualifier, std::string_view schema, Fn fn) const {
    bool found = false;
    for (const TableRef& t : tables_) {
      if (Names(t, qualifier) && (schema.empty() || t.schema.empty() || t.schema == schema)) {
        fn(t);
        found = true;
      }
    }
    if (!found) {
      for (const TableRef& t : tables_) fn(t);
    }
  }

  // The policy tables a table reference may mean.
  template <typename Fn>
  void ForPolicyTables(const TableRef& t, Fn fn) const {
    const auto& rules = policy_.tables();
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].name == t.name && (t.schema.empty() || rules[i].schema == t.schema)) fn(i);
    }
  }

  void AddAllColumns(const TableRef& t, std::vector<ProtectedReference>& out) const {
    ForPolicyTables(t, [&](size_t ti) {
      for (size_t ci = 0; ci < policy_.tables()[ti].columns.size(); ++ci) Add({ti, ci}, out);
    });
  }

  void AddColumn(const TableRef& t, std::string_view column, std::vector<ProtectedReference>& out) const {
    ForPolicyTables(t, [&](size_t ti) {
      const auto& columns = policy_.tables()[ti].columns;
      for (size_t ci = 0; ci < columns.size(); ++ci) {
        if (columns[ci].name == column) Add({ti, ci}, out);
      }
    });
  }

  static void Add(ProtectedReference r, std::vector<ProtectedReference>& out) {
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }

  const Policy& policy_;
  const std::vector<TableRef>& tables_;
};

}  // namespace

std::vector<ProtectedReference> FindOutputReferences(const Policy& policy, const ParsedSql& sql) {
  std::vector<ProtectedReference> out;
  const PgQuery__ParseResult& tree = sql.tree();
  for (size_t i = 0; i < tree.n_stmts; ++i) {
    // Each statement of a multi-statement string resolves names against its own tables.
    Collector collector;
    collector.Visit(&tree.stmts[i]->base, false);
    const Resolver resolver(policy, collector.tables);
    for (const ColumnRefInfo& ref : collector.columns) resolver.Resolve(ref, out);
  }
  return out;
}

}  // namespace pgmask::policy
