#include "policy/name_resolution.h"

#include <algorithm>
#include <string>
#include <vector>

namespace pgmask::policy {
namespace {

bool Listed(const std::vector<std::string>& path, std::string_view schema) {
  return std::find(path.begin(), path.end(), schema) != path.end();
}

void AddRule(const Policy& policy, const CatalogRelation& relation, std::string_view column,
             ProtectedColumnSet& out) {
  const TableRule* table = policy.FindTable(relation.schema, relation.name);
  if (table == nullptr) return;
  for (size_t c = 0; c < table->columns.size(); ++c) {
    if (table->columns[c].name != column) continue;
    const size_t t = static_cast<size_t>(table - policy.tables().data());
    out.Insert({t, c});
  }
}

// Visits every ancestor (up) or descendant (down) of `relation` once; multiple inheritance can
// reach a relation along several paths.
void AddRelated(const CatalogView& catalog, const Policy& policy, const CatalogRelation& relation,
                std::string_view column, bool up, ProtectedColumnSet& out, bool& everything) {
  std::vector<const CatalogRelation*> seen = {&relation};
  for (size_t next = 0; next < seen.size(); ++next) {
    if (seen.size() > kMaxInheritanceRelations) {
      everything = true;
      return;
    }
    auto visit = [&](const CatalogRelation* r) {
      if (r == nullptr || std::find(seen.begin(), seen.end(), r) != seen.end()) return;
      AddRule(policy, *r, column, out);
      seen.push_back(r);
    };
    if (up) {
      // A parent the session cannot see holds no rows it can read through this relation.
      for (const QualifiedName& p : seen[next]->parents) visit(catalog.Find(p.schema, p.name));
    } else {
      for (const CatalogRelation* child : catalog.Children(*seen[next])) visit(child);
    }
  }
}

}  // namespace

const CatalogRelation* ResolveRelation(const CatalogView& catalog, std::string_view schema,
                                       std::string_view name) {
  if (!schema.empty()) return catalog.Find(schema, name);
  // The session's temporary relations are not listed, and come first unless search_path places
  // pg_temp later: the name may be one of them, whose columns and data pgmask does not know.
  // (A view over one is temporary too, and shadows whatever it is named like.)
  if (catalog.IsTemporary(name)) return nullptr;
  const std::vector<std::string>& path = catalog.search_path();
  if (!Listed(path, kTempSchema)) {
    if (const CatalogRelation* r = catalog.Find(kTempSchema, name)) return r;
  }
  if (!Listed(path, kCatalogSchema)) {
    if (const CatalogRelation* r = catalog.Find(kCatalogSchema, name)) return r;
  }
  for (const std::string& s : path) {
    if (const CatalogRelation* r = catalog.Find(s, name)) return r;
  }
  return nullptr;
}

FunctionOrigin ResolveFunction(const CatalogView& catalog, std::string_view schema, std::string_view name) {
  const bool assume_builtin = !catalog.data().lists_every_function;
  if (!schema.empty()) {
    if (schema == kCatalogSchema) {
      return catalog.HasFunction(schema, name) || assume_builtin ? FunctionOrigin::kBuiltin
                                                                 : FunctionOrigin::kUnknown;
    }
    return catalog.HasFunction(schema, name) ? FunctionOrigin::kUserDefined : FunctionOrigin::kUnknown;
  }
  bool builtin = false;
  if (const std::vector<std::string>* schemas = catalog.FunctionSchemas(name)) {
    for (const std::string& s : *schemas) {
      if (s == kCatalogSchema) {
        builtin = true;
      } else if (Listed(catalog.search_path(), s)) {
        return FunctionOrigin::kUserDefined;
      }
    }
  }
  if (builtin || assume_builtin) return FunctionOrigin::kBuiltin;
  return FunctionOrigin::kUnknown;
}

ProtectedColumnSet ColumnProtection(const CatalogView& catalog, const Policy& policy,
                                    const CatalogRelation& relation, std::string_view column,
                                    bool& everything) {
  ProtectedColumnSet out;
  AddRule(policy, relation, column, out);
  AddRelated(catalog, policy, relation, column, /*up=*/true, out, everything);
  AddRelated(catalog, policy, relation, column, /*up=*/false, out, everything);
  return out;
}

}  // namespace pgmask::policy
