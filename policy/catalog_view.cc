#include "policy/catalog_view.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "protocol/string_view_bridge.h"

namespace pgmask::policy {

std::string CatalogSnapshot::Key(std::string_view schema, std::string_view name) {
  // NUL cannot occur in a catalog name, so the key is unambiguous.
  std::string key(schema);
  key.push_back('\0');
  key.append(name);
  return key;
}

CatalogSnapshot::CatalogSnapshot(CatalogData data) : data_(std::move(data)) {
  data_.search_path.clear();
  for (const CatalogRelation& r : data_.relations) relations_.emplace(Key(r.schema, r.name), &r);
  for (const CatalogRelation& r : data_.relations) {
    for (const QualifiedName& parent : r.parents) {
      if (const CatalogRelation* p = Find(parent.schema, parent.name)) children_[p].push_back(&r);
    }
  }
  for (const CatalogFunction& f : data_.functions) {
    std::vector<std::string>& schemas = function_schemas_[f.name];
    if (std::find(schemas.begin(), schemas.end(), f.schema) == schemas.end()) schemas.push_back(f.schema);
  }
}

const CatalogRelation* CatalogSnapshot::Find(std::string_view schema, std::string_view name) const {
  const auto it = relations_.find(Key(schema, name));
  return it == relations_.end() ? nullptr : it->second;
}

const std::vector<const CatalogRelation*>& CatalogSnapshot::Children(const CatalogRelation& relation) const {
  static const std::vector<const CatalogRelation*> kNone;
  const auto it = children_.find(&relation);
  return it == children_.end() ? kNone : it->second;
}

const std::vector<std::string>* CatalogSnapshot::FunctionSchemas(std::string_view name) const {
  const auto it = function_schemas_.find(ToAbsl(name));
  return it == function_schemas_.end() ? nullptr : &it->second;
}

bool CatalogSnapshot::HasFunction(std::string_view schema, std::string_view name) const {
  const std::vector<std::string>* schemas = FunctionSchemas(name);
  return schemas != nullptr && std::find(schemas->begin(), schemas->end(), schema) != schemas->end();
}

std::string OperatorFunctionName(std::string_view op) { return "operator " + std::string(op); }

CatalogView::CatalogView(CatalogData data)
    : search_path_(std::move(data.search_path)), temporary_(std::move(data.temporary)) {
  std::sort(temporary_.begin(), temporary_.end());
  snapshot_ = std::make_shared<const CatalogSnapshot>(std::move(data));
}

CatalogView::CatalogView(std::shared_ptr<const CatalogSnapshot> snapshot, std::vector<std::string> search_path,
                         std::vector<std::string> temporary)
    : snapshot_(std::move(snapshot)), search_path_(std::move(search_path)), temporary_(std::move(temporary)) {
  std::sort(temporary_.begin(), temporary_.end());
}

bool CatalogView::IsTemporary(std::string_view name) const {
  return std::binary_search(temporary_.begin(), temporary_.end(), name, std::less<>());
}

CatalogView OfflineCatalog(const Policy& policy) {
  CatalogData data;
  data.search_path = {"public"};
  data.lists_every_relation = false;
  data.lists_every_function = false;
  for (const TableRule& table : policy.tables()) {
    CatalogRelation r;
    r.schema = table.schema;
    r.name = table.name;
    r.columns_complete = false;
    int16_t attnum = 0;
    for (const ColumnRule& column : table.columns) r.columns.push_back({column.name, ++attnum});
    data.relations.push_back(std::move(r));
  }
  return CatalogView(std::move(data));
}

}  // namespace pgmask::policy
