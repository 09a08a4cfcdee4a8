// Names in a statement resolved the way PostgreSQL resolves them: relations and functions along
// the session's search_path, and protection through partitions and inheritance.
#pragma once

#include <cstddef>
#include <string_view>

#include "policy/catalog_view.h"
#include "policy/lineage.h"
#include "policy/policy.h"

namespace pgmask::policy {

inline constexpr std::string_view kCatalogSchema = "pg_catalog";
inline constexpr std::string_view kTempSchema = "pg_temp";

// The relation `schema.name` (schema empty: the first schema of the effective search path that
// has it: pg_temp unless listed, pg_catalog unless listed, then search_path), or null.
const CatalogRelation* ResolveRelation(const CatalogView& catalog, std::string_view schema,
                                       std::string_view name);

enum class FunctionOrigin { kBuiltin, kUserDefined, kUnknown };

// Where a called function comes from. PostgreSQL picks among same-named functions of every
// search_path schema by argument types, which the parse tree does not have; so an unqualified
// name that any schema other than pg_catalog defines counts as user-defined (fail closed).
FunctionOrigin ResolveFunction(const CatalogView& catalog, std::string_view schema, std::string_view name);

// The policy columns that protect column `column` of `relation`: its own rule, and the rules of
// its ancestors (a partition or child of a protected table is protected the same way) and of its
// descendants (a scan of a parent returns its children's rows), matched by column name as
// PostgreSQL matches inherited columns. Bounded: past kMaxInheritanceRelations related relations
// the walk stops and the column counts as untraceable (`everything` is set).
inline constexpr size_t kMaxInheritanceRelations = 4096;
ProtectedColumnSet ColumnProtection(const CatalogView& catalog, const Policy& policy,
                                    const CatalogRelation& relation, std::string_view column,
                                    bool& everything);

}  // namespace pgmask::policy
