// What the analyzer knows of the database's catalog: the session's search_path, relations with
// their columns, view definitions and inheritance parents, and function names by schema.
//
// The proxy fills a CatalogData from the live catalog over the session's own connection (see the
// field comments for the query each one comes from) and rebuilds the view after DDL, a
// search_path change or a policy reload. `pgmask explain` without --upstream uses
// OfflineCatalog(policy) instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "policy/identifier.h"
#include "policy/policy.h"

namespace pgmask::policy {

enum class RelationKind { kTable, kView, kMaterializedView, kPartitionedTable, kForeignTable };

struct CatalogColumn {
  std::string name;    // pg_attribute.attname
  int16_t attnum = 0;  // pg_attribute.attnum
  // pg_attribute.attgenerated is set: `COPY table TO` leaves it out unless it is listed.
  bool generated = false;
  // A generated column: the attnums of the columns its expression reads (pg_depend of its
  // pg_attrdef), whose values it holds in derived form.
  std::vector<int16_t> generated_from = {};
  // In a unique index or exclusion constraint (pg_index): a value written to it is compared with
  // every row's, and whether the write conflicts tells whether the value exists.
  bool unique = false;
  // Foreign keys from this column: the columns (schema, table, column) a value written to it
  // must match, so whether the write fails tells whether the referenced row exists.
  struct Reference {
    std::string schema;
    std::string table;
    std::string column;
    bool operator==(const Reference&) const = default;
  };
  std::vector<Reference> references = {};
};

struct CatalogRelation {
  std::string schema;  // pg_namespace.nspname; the session's own temp schema as "pg_temp"
  std::string name;    // pg_class.relname
  RelationKind kind = RelationKind::kTable;
  // attnum > 0 and not attisdropped, in attnum order: the order `*` expands to.
  std::vector<CatalogColumn> columns;
  // False when the relation may have columns not listed (offline mode): `*` then yields a
  // placeholder for them, and an unknown column name is taken to be one of them.
  bool columns_complete = true;
  // Views and materialized views: pg_get_viewdef(oid), run in the session itself so that names
  // are qualified exactly as the session's search_path needs.
  std::string view_definition;
  // pg_inherits.inhparent of this relation (partition or inheritance child), as schema + name.
  std::vector<QualifiedName> parents;
  // pg_class.relrowsecurity: its row security policies run with every statement that reads it.
  bool row_security = false;
};

struct CatalogFunction {
  std::string schema;  // pg_proc.pronamespace's nspname
  std::string name;    // pg_proc.proname (overloads need only one entry per schema)
};

// Operators are listed among the functions under this name (pg_operator.oprname prefixed with
// "operator "), and resolved the same way.
std::string OperatorFunctionName(std::string_view op);

struct CatalogData {
  // current_schemas(false): the existing schemas of search_path in order. pg_catalog is searched
  // first unless listed, and relations of schema "pg_temp" before everything (the session's
  // temp schema; functions are never looked up there), as PostgreSQL does.
  std::vector<std::string> search_path;
  // Names of the session's temporary relations (pg_my_temp_schema()): per session, like
  // search_path, and not in `relations`.
  std::vector<std::string> temporary;
  std::vector<CatalogRelation> relations;
  std::vector<CatalogFunction> functions;
  // True when `relations` lists every relation the session can name: a name it does not know is
  // then something the analysis cannot trace (created in the same batch, a race with DDL) and
  // counts as derived from every protected column. False (offline): an unknown relation is an
  // ordinary table without protected columns whose columns are unknown.
  bool lists_every_relation = true;
  // True when `functions` lists every function: an unknown function is then untrusted. False
  // (offline): an unknown function without a schema, or in pg_catalog, is assumed built-in.
  bool lists_every_function = true;
};

// The relations and functions of one database, indexed: immutable once built, so one snapshot
// serves every session on that database (its search_path aside) from any thread.
class CatalogSnapshot {
 public:
  // `data.search_path` is not used: each session has its own (CatalogView).
  explicit CatalogSnapshot(CatalogData data);
  // The indexes point into data(): the snapshot stays where it was built.
  CatalogSnapshot(const CatalogSnapshot&) = delete;
  CatalogSnapshot& operator=(const CatalogSnapshot&) = delete;

  const CatalogData& data() const { return data_; }
  // The relation schema.name exactly, or null.
  const CatalogRelation* Find(std::string_view schema, std::string_view name) const;
  // Direct partitions and inheritance children of `relation`.
  const std::vector<const CatalogRelation*>& Children(const CatalogRelation& relation) const;
  // Whether some function called `name` exists in `schema`.
  bool HasFunction(std::string_view schema, std::string_view name) const;
  // The schemas that have a function called `name`.
  const std::vector<std::string>* FunctionSchemas(std::string_view name) const;

 private:
  static std::string Key(std::string_view schema, std::string_view name);

  CatalogData data_;
  absl::flat_hash_map<std::string, const CatalogRelation*> relations_;
  absl::flat_hash_map<const CatalogRelation*, std::vector<const CatalogRelation*>> children_;
  absl::flat_hash_map<std::string, std::vector<std::string>> function_schemas_;
};

// What the analyzer resolves names against: a database's snapshot seen through one session's
// search_path. Cheap to copy: the snapshot is shared.
class CatalogView {
 public:
  // A view over a snapshot of its own (tests, `pgmask explain`): search_path from `data`.
  explicit CatalogView(CatalogData data);
  CatalogView(std::shared_ptr<const CatalogSnapshot> snapshot, std::vector<std::string> search_path,
              std::vector<std::string> temporary = {});

  // Relations and functions; its search_path field is not the session's (see search_path()).
  const CatalogData& data() const { return snapshot_->data(); }
  const std::shared_ptr<const CatalogSnapshot>& snapshot() const { return snapshot_; }
  // current_schemas(false) of the session: see CatalogData::search_path.
  const std::vector<std::string>& search_path() const { return search_path_; }
  // Whether the session has a temporary relation of that name, which an unqualified name may
  // mean instead of a relation the snapshot lists.
  bool IsTemporary(std::string_view name) const;
  // Those names, sorted: what resolves to a temporary relation, as search_path does (plans key on both).
  const std::vector<std::string>& temporary() const { return temporary_; }

  const CatalogRelation* Find(std::string_view schema, std::string_view name) const {
    return snapshot_->Find(schema, name);
  }
  const std::vector<const CatalogRelation*>& Children(const CatalogRelation& relation) const {
    return snapshot_->Children(relation);
  }
  bool HasFunction(std::string_view schema, std::string_view name) const {
    return snapshot_->HasFunction(schema, name);
  }
  const std::vector<std::string>* FunctionSchemas(std::string_view name) const {
    return snapshot_->FunctionSchemas(name);
  }

 private:
  std::shared_ptr<const CatalogSnapshot> snapshot_;
  std::vector<std::string> search_path_;
  std::vector<std::string> temporary_;
};

// The catalog `pgmask explain` assumes without a database: every table of the policy exists with
// its protected columns (and unknown others), search_path is `public`, other relations are
// ordinary tables without protected columns, and unknown unqualified functions are built-ins.
// It cannot know views, partitions, inheritance or user-defined functions.
CatalogView OfflineCatalog(const Policy& policy);

}  // namespace pgmask::policy
