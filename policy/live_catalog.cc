#include "policy/live_catalog.h"

#include <algorithm>
#include <cstdint>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/identifier.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

// Known to this process only. A plain sum of transaction ids could be balanced by a role that
// times its DDL: swap two columns' names in transactions whose ids add up to the old rows', and
// the fingerprint stays. Keyed hashes of the ids leave nothing to aim at.
int64_t FingerprintKey() {
  static const int64_t key = [] {
    std::random_device device;
    return static_cast<int64_t>((uint64_t{device()} << 32) | device());
  }();
  return key;
}

// Rows of a catalog table: count and the sum of keyed hashes of their creating transaction ids.
// Any DDL adds, removes or rewrites rows of one of these tables, which changes one of the two.
std::string TableFingerprint(std::string_view table, std::string_view where) {
  return absl::StrFormat(
      "(SELECT pg_catalog.count(*)::pg_catalog.text || '.' ||"
      " coalesce(pg_catalog.sum(pg_catalog.hashint8extended(xmin::pg_catalog.text::pg_catalog.int8, %d)), 0)"
      "::pg_catalog.text FROM pg_catalog.%s%s)",
      FingerprintKey(), table, where);
}

constexpr char kNotTemporary[] = " WHERE relpersistence <> 't'";
constexpr char kRelationFilter[] =
    "c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND c.relpersistence <> 't'";
// Views of the system schemas expose catalog data only (the dangerous ones are refused by
// name), so their definitions are not read.
constexpr char kSystemSchemas[] = "('pg_catalog', 'information_schema')";

std::string MembershipsAndProtectedColumns(const Policy& policy) {
  std::string values;
  const auto& tables = policy.tables();
  for (size_t ti = 0; ti < tables.size(); ++ti) {
    for (size_t ci = 0; ci < tables[ti].columns.size(); ++ci) {
      if (!values.empty()) values += ", ";
      absl::StrAppend(&values, "(", ti, ", ", ci, ", ", EscapeStringLiteral(tables[ti].schema), ", ",
                      EscapeStringLiteral(tables[ti].name), ", ", EscapeStringLiteral(tables[ti].columns[ci].name), ")");
    }
  }
  std::string sql =
      "WITH RECURSIVE pgmask_member(oid) AS ("
      " SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user"
      " UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN pgmask_member p ON m.member = p.oid)"
      " SELECT 'r', r.rolname::pg_catalog.text, NULL::pg_catalog.text, NULL::pg_catalog.text,"
      " NULL::pg_catalog.text, NULL::pg_catalog.text"
      " FROM pg_catalog.pg_roles r JOIN pgmask_member USING (oid)";
  if (!values.empty()) {
    absl::StrAppend(&sql,
                    " UNION ALL SELECT 'c', NULL, c.oid::pg_catalog.text, a.attnum::pg_catalog.text,"
                    " v.ti::pg_catalog.text, v.ci::pg_catalog.text"
                    " FROM (VALUES ",
                    values,
                    ") AS v(ti, ci, s, t, col)"
                    " JOIN pg_catalog.pg_namespace n ON n.nspname = v.s"
                    " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = v.t"
                    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = v.col"
                    " AND a.attnum > 0 AND NOT a.attisdropped");
  }
  return sql;
}

bool Cell(absl::Span<const std::optional<std::string_view>> row, size_t i, std::string_view& out) {
  if (i >= row.size() || !row[i]) return false;
  out = *row[i];
  return true;
}

template <typename T>
bool Number(absl::Span<const std::optional<std::string_view>> row, size_t i, T& out) {
  std::string_view text;
  return Cell(row, i, text) && absl::SimpleAtoi(ToAbsl(text), &out);
}

absl::Status BadRow(std::string_view what) {
  return absl::DataLossError(absl::StrFormat("unexpected catalog row (%s)", what));
}

}  // namespace

std::string LiveCatalogQuery(const Policy& policy, std::string_view known_fingerprint, absl::Duration timeout) {
  const std::string changed = absl::StrFormat(
      "pg_catalog.current_setting('pgmask.catalog_fingerprint') <> %s", EscapeStringLiteral(known_fingerprint));
  const int64_t wait_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  // A statement may wait for a lock, then run: twice as long, so that a lock wait ends as such.
  const std::string wait = absl::StrFormat("'%dms'", wait_ms);
  const std::string run = absl::StrFormat("'%dms'", 2 * wait_ms);
  std::string sql;
  // The session's own search_path and timeouts first (saved, to be restored inside a transaction
  // block of the client's), then none and the read's own.
  absl::StrAppend(&sql,
                  "SELECT 'x', pg_catalog.set_config('pgmask.saved_search_path', "
                  "pg_catalog.current_setting('search_path'), true),"
                  " pg_catalog.set_config('pgmask.saved_lock_timeout', pg_catalog.current_setting('lock_timeout'), true),"
                  " pg_catalog.set_config('pgmask.saved_statement_timeout', "
                  "pg_catalog.current_setting('statement_timeout'), true),"
                  " pg_catalog.set_config('lock_timeout', ", wait, ", true),"
                  " pg_catalog.set_config('statement_timeout', ", run, ", true);"
                  " SELECT 's', u.s::pg_catalog.text, u.n::pg_catalog.text FROM "
                  "pg_catalog.unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS u(s, n);"
                  " SELECT 't', c.relname::pg_catalog.text FROM pg_catalog.pg_class c"
                  " WHERE c.relnamespace = pg_catalog.pg_my_temp_schema();"
                  " SELECT 'x', pg_catalog.set_config('search_path', '', true);");
  absl::StrAppend(&sql, " SELECT 'v', pg_catalog.set_config('pgmask.catalog_fingerprint', ",
                  TableFingerprint("pg_class", kNotTemporary), " || '/' || ",
                  TableFingerprint("pg_attribute a",
                                   " WHERE a.attrelid IN (SELECT oid FROM pg_catalog.pg_class WHERE relpersistence <> 't')"),
                  " || '/' || ", TableFingerprint("pg_proc", ""), " || '/' || ", TableFingerprint("pg_rewrite", ""),
                  " || '/' || ", TableFingerprint("pg_inherits", ""), " || '/' || ",
                  TableFingerprint("pg_namespace", ""), " || '/' || ",
                  // Foreign keys: a write is checked against the columns they reference.
                  TableFingerprint("pg_constraint", ""), ", true);");
  absl::StrAppend(&sql, " ", MembershipsAndProtectedColumns(policy), ";");
  absl::StrAppend(&sql,
                  " SELECT 'R', c.oid::pg_catalog.text, n.nspname::pg_catalog.text, c.relname::pg_catalog.text,"
                  " c.relkind::pg_catalog.text,"
                  " CASE WHEN c.relkind IN ('v', 'm') AND n.nspname NOT IN ",
                  kSystemSchemas,
                  " THEN pg_catalog.pg_get_viewdef(c.oid) END, c.relrowsecurity::pg_catalog.text"
                  " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
                  kRelationFilter, " AND ", changed, ";");
  absl::StrAppend(&sql,
                  " SELECT 'A', a.attrelid::pg_catalog.text, a.attname::pg_catalog.text, a.attnum::pg_catalog.text,"
                  " a.attgenerated::pg_catalog.text"
                  " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE ",
                  kRelationFilter, " AND a.attnum > 0 AND NOT a.attisdropped AND ", changed,
                  " ORDER BY a.attrelid, a.attnum;");
  // What each generated column is computed from.
  absl::StrAppend(&sql,
                  " SELECT 'G', ad.adrelid::pg_catalog.text, ad.adnum::pg_catalog.text, d.refobjsubid::pg_catalog.text"
                  " FROM pg_catalog.pg_attrdef ad"
                  " JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid"
                  " JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum"
                  " JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
                  " AND d.objid = ad.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                  " AND d.refobjid = ad.adrelid AND d.refobjsubid > 0 WHERE ",
                  kRelationFilter, " AND a.attgenerated <> '' AND ", changed, ";");
  // The columns of unique indexes and exclusion constraints: their key columns, and for
  // expression or partial indexes the columns pg_depend says they read.
  absl::StrAppend(&sql,
                  " SELECT 'U', i.indrelid::pg_catalog.text, k.attnum::pg_catalog.text FROM pg_catalog.pg_index i"
                  " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid,"
                  " pg_catalog.unnest(i.indkey::pg_catalog.int2[]) AS k(attnum) WHERE ",
                  kRelationFilter, " AND (i.indisunique OR i.indisexclusion) AND k.attnum > 0 AND ", changed,
                  " UNION SELECT 'U', i.indrelid::pg_catalog.text, d.refobjsubid::pg_catalog.text"
                  " FROM pg_catalog.pg_index i"
                  " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
                  " JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                  " AND d.objid = i.indexrelid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                  " AND d.refobjid = i.indrelid AND d.refobjsubid > 0 WHERE ",
                  kRelationFilter, " AND (i.indisunique OR i.indisexclusion) AND ", changed, ";");
  // Foreign keys, column by column.
  absl::StrAppend(&sql,
                  " SELECT 'K', k.conrelid::pg_catalog.text, f.a::pg_catalog.text, k.confrelid::pg_catalog.text,"
                  " f.r::pg_catalog.text FROM pg_catalog.pg_constraint k"
                  " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid,"
                  " ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) AS f(a, r) WHERE k.contype = 'f' AND ",
                  kRelationFilter, " AND ", changed, ";");
  absl::StrAppend(&sql,
                  " SELECT 'P', i.inhrelid::pg_catalog.text, i.inhparent::pg_catalog.text FROM pg_catalog.pg_inherits i"
                  " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE ",
                  kRelationFilter, " AND ", changed, ";");
  absl::StrAppend(&sql,
                  " SELECT DISTINCT 'F', n.nspname::pg_catalog.text, p.proname::pg_catalog.text"
                  " FROM pg_catalog.pg_proc p"
                  " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ",
                  changed, ";");
  absl::StrAppend(&sql,
                  " SELECT DISTINCT 'O', n.nspname::pg_catalog.text, o.oprname::pg_catalog.text"
                  " FROM pg_catalog.pg_operator o"
                  " JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace WHERE ",
                  changed, ";");
  absl::StrAppend(&sql,
                  " SELECT 'x', pg_catalog.set_config('search_path', "
                  "pg_catalog.current_setting('pgmask.saved_search_path'), true),"
                  " pg_catalog.set_config('lock_timeout', pg_catalog.current_setting('pgmask.saved_lock_timeout'), true),"
                  " pg_catalog.set_config('statement_timeout', "
                  "pg_catalog.current_setting('pgmask.saved_statement_timeout'), true)");
  return sql;
}

absl::Status LiveCatalogReader::AddRelation(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t oid = 0;
  std::string_view schema, name, kind, row_security;
  if (row.size() != 7 || !Number(row, 1, oid) || !Cell(row, 2, schema) || !Cell(row, 3, name) ||
      !Cell(row, 4, kind) || kind.size() != 1 || !Cell(row, 6, row_security)) {
    return BadRow("relation");
  }
  if (!catalog_.shared) catalog_.shared.emplace();
  have_relations_ = true;
  CatalogRelation r;
  r.schema = std::string(schema);
  r.name = std::string(name);
  r.row_security = row_security == "true";
  switch (kind[0]) {
    case 'v':
    case 'm':
      r.kind = kind[0] == 'v' ? RelationKind::kView : RelationKind::kMaterializedView;
      if (row[5]) {
        r.view_definition = std::string(*row[5]);
      } else {
        // A view of a system schema: its columns hold catalog data, like a table's.
        r.kind = RelationKind::kTable;
      }
      break;
    case 'p':
      r.kind = RelationKind::kPartitionedTable;
      break;
    case 'f':
      r.kind = RelationKind::kForeignTable;
      break;
    default:
      r.kind = RelationKind::kTable;
      break;
  }
  if (!relation_index_.emplace(oid, catalog_.shared->relations.size()).second) return BadRow("duplicate relation");
  catalog_.shared->relations.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status LiveCatalogReader::AddColumn(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t oid = 0;
  int attnum = 0;
  std::string_view name;
  std::string_view generated;
  if (row.size() != 5 || !Number(row, 1, oid) || !Cell(row, 2, name) || !Number(row, 3, attnum) ||
      !Cell(row, 4, generated)) {
    return BadRow("column");
  }
  const auto it = relation_index_.find(oid);
  // A relation created between the two statements: its columns are not needed.
  if (it == relation_index_.end()) return absl::OkStatus();
  catalog_.shared->relations[it->second].columns.push_back(
      {std::string(name), static_cast<int16_t>(attnum), !generated.empty()});
  return absl::OkStatus();
}

CatalogColumn* LiveCatalogReader::ColumnAt(uint32_t oid, int attnum) {
  const auto it = relation_index_.find(oid);
  if (it == relation_index_.end()) return nullptr;
  for (CatalogColumn& c : catalog_.shared->relations[it->second].columns) {
    if (c.attnum == attnum) return &c;
  }
  return nullptr;
}

absl::Status LiveCatalogReader::AddGeneratedSource(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t oid = 0;
  int attnum = 0;
  int source = 0;
  if (row.size() != 4 || !Number(row, 1, oid) || !Number(row, 2, attnum) || !Number(row, 3, source)) {
    return BadRow("generated column");
  }
  if (CatalogColumn* c = ColumnAt(oid, attnum)) c->generated_from.push_back(static_cast<int16_t>(source));
  return absl::OkStatus();
}

absl::Status LiveCatalogReader::AddUniqueColumn(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t oid = 0;
  int attnum = 0;
  if (row.size() != 3 || !Number(row, 1, oid) || !Number(row, 2, attnum)) return BadRow("unique column");
  if (CatalogColumn* c = ColumnAt(oid, attnum)) c->unique = true;
  return absl::OkStatus();
}

absl::Status LiveCatalogReader::AddForeignKey(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t oid = 0;
  int attnum = 0;
  uint32_t referenced_oid = 0;
  int referenced_attnum = 0;
  if (row.size() != 5 || !Number(row, 1, oid) || !Number(row, 2, attnum) || !Number(row, 3, referenced_oid) ||
      !Number(row, 4, referenced_attnum)) {
    return BadRow("foreign key");
  }
  CatalogColumn* c = ColumnAt(oid, attnum);
  const CatalogColumn* r = ColumnAt(referenced_oid, referenced_attnum);
  if (c != nullptr && r != nullptr) {
    const CatalogRelation& target = catalog_.shared->relations[relation_index_.at(referenced_oid)];
    c->references.push_back({target.schema, target.name, r->name});
  }
  return absl::OkStatus();
}

absl::Status LiveCatalogReader::AddParent(absl::Span<const std::optional<std::string_view>> row) {
  uint32_t child = 0;
  uint32_t parent = 0;
  if (row.size() != 3 || !Number(row, 1, child) || !Number(row, 2, parent)) return BadRow("inheritance");
  parents_.emplace_back(child, parent);
  return absl::OkStatus();
}

absl::Status LiveCatalogReader::AddRow(absl::Span<const std::optional<std::string_view>> row) {
  std::string_view tag;
  if (!Cell(row, 0, tag) || tag.size() != 1) return BadRow("no tag");
  switch (tag[0]) {
    case 'x':
      return absl::OkStatus();
    case 's': {
      std::string_view schema;
      int position = 0;
      if (row.size() != 3 || !Cell(row, 1, schema) || !Number(row, 2, position)) return BadRow("search_path");
      search_path_.emplace_back(position, std::string(schema));
      return absl::OkStatus();
    }
    case 't': {
      std::string_view name;
      if (row.size() != 2 || !Cell(row, 1, name)) return BadRow("temporary relation");
      catalog_.temporary.emplace_back(name);
      return absl::OkStatus();
    }
    case 'v': {
      std::string_view fingerprint;
      if (row.size() != 2 || !Cell(row, 1, fingerprint)) return BadRow("fingerprint");
      catalog_.fingerprint = std::string(fingerprint);
      have_fingerprint_ = true;
      return absl::OkStatus();
    }
    case 'r': {
      std::string_view role;
      if (row.size() != 6 || !Cell(row, 1, role)) return BadRow("role");
      catalog_.roles.emplace_back(role);
      return absl::OkStatus();
    }
    case 'c': {
      uint32_t oid = 0;
      int attnum = 0;
      size_t ti = 0;
      size_t ci = 0;
      if (row.size() != 6 || !Number(row, 2, oid) || !Number(row, 3, attnum) || !Number(row, 4, ti) ||
          !Number(row, 5, ci)) {
        return BadRow("protected column");
      }
      const auto& tables = policy_->tables();
      if (ti >= tables.size() || ci >= tables[ti].columns.size()) return BadRow("protected column index");
      catalog_.protected_columns.push_back({oid, static_cast<int16_t>(attnum), {ti, ci}});
      return absl::OkStatus();
    }
    case 'R':
      return AddRelation(row);
    case 'A':
      return AddColumn(row);
    case 'G':
      return AddGeneratedSource(row);
    case 'U':
      return AddUniqueColumn(row);
    case 'K':
      return AddForeignKey(row);
    case 'P':
      return AddParent(row);
    case 'F':
    case 'O': {
      std::string_view schema, name;
      if (row.size() != 3 || !Cell(row, 1, schema) || !Cell(row, 2, name)) return BadRow("function");
      if (!catalog_.shared) return BadRow("function before relations");
      catalog_.shared->functions.push_back(
          {std::string(schema), tag[0] == 'O' ? OperatorFunctionName(name) : std::string(name)});
      return absl::OkStatus();
    }
    default:
      return BadRow("unknown tag");
  }
}

absl::StatusOr<LiveCatalog> LiveCatalogReader::Finish() && {
  if (!have_fingerprint_ || catalog_.roles.empty()) return absl::DataLossError("the catalog query returned no identity");
  std::sort(search_path_.begin(), search_path_.end());
  for (auto& [position, schema] : search_path_) catalog_.search_path.push_back(std::move(schema));
  if (catalog_.shared) {
    for (const auto& [child, parent] : parents_) {
      const auto c = relation_index_.find(child);
      const auto p = relation_index_.find(parent);
      if (c == relation_index_.end() || p == relation_index_.end()) continue;
      const CatalogRelation& pr = catalog_.shared->relations[p->second];
      catalog_.shared->relations[c->second].parents.push_back({pr.schema, pr.name});
    }
    catalog_.shared->lists_every_relation = true;
    catalog_.shared->lists_every_function = true;
  }
  return std::move(catalog_);
}

}  // namespace pgmask::policy
