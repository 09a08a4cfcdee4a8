#include "policy/policy.h"

#include <utility>

#include "protocol/string_view_bridge.h"

namespace pgmask::policy {

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kRestricted: return "restricted";
    case Tier::kConfidential: return "confidential";
    case Tier::kInternal: return "internal";
    case Tier::kPublic: return "public";
  }
  return "unknown";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kClear: return "clear";
    case Action::kTokenize: return "tokenize";
    case Action::kMask: return "mask";
    case Action::kNull: return "null";
    case Action::kDeny: return "deny";
  }
  return "unknown";
}

std::optional<Tier> ParseTier(std::string_view text) {
  for (Tier t : {Tier::kRestricted, Tier::kConfidential, Tier::kInternal, Tier::kPublic}) {
    if (text == TierName(t)) return t;
  }
  return std::nullopt;
}

std::optional<Action> ParseAction(std::string_view text) {
  for (Action a : {Action::kClear, Action::kTokenize, Action::kMask, Action::kNull,
                   Action::kDeny}) {
    if (text == ActionName(a)) return a;
  }
  return std::nullopt;
}

Policy::Policy(PolicyData data) : data_(std::move(data)) {
  for (size_t i = 0; i < data_.classifications.size(); ++i) {
    class_index_.emplace(data_.classifications[i].name, i);
  }
  column_index_.resize(data_.tables.size());
  for (size_t t = 0; t < data_.tables.size(); ++t) {
    const TableRule& table = data_.tables[t];
    table_index_[table.schema].emplace(table.name, t);
    for (size_t c = 0; c < table.columns.size(); ++c) {
      column_index_[t].emplace(table.columns[c].name, c);
    }
  }
  for (size_t r = 0; r < data_.roles.size(); ++r) {
    if (data_.roles[r].name == kDefaultRoleName) {
      default_role_ = &data_.roles[r];
    } else {
      role_index_.emplace(data_.roles[r].name, r);
    }
  }
}

std::optional<size_t> Policy::FindClassification(std::string_view name) const {
  auto it = class_index_.find(ToAbsl(name));
  if (it == class_index_.end()) return std::nullopt;
  return it->second;
}

const TableRule* Policy::FindTable(std::string_view schema, std::string_view table) const {
  auto s = table_index_.find(ToAbsl(schema));
  if (s == table_index_.end()) return nullptr;
  auto t = s->second.find(ToAbsl(table));
  if (t == s->second.end()) return nullptr;
  return &data_.tables[t->second];
}

const ColumnRule* Policy::FindColumn(std::string_view schema, std::string_view table,
                                     std::string_view column) const {
  const TableRule* rule = FindTable(schema, table);
  if (rule == nullptr) return nullptr;
  const auto& columns = column_index_[static_cast<size_t>(rule - data_.tables.data())];
  auto c = columns.find(ToAbsl(column));
  if (c == columns.end()) return nullptr;
  return &rule->columns[c->second];
}

const RoleRule* Policy::FindRole(std::string_view role) const {
  auto it = role_index_.find(ToAbsl(role));
  if (it == role_index_.end()) return nullptr;
  return &data_.roles[it->second];
}

Action Policy::RoleAction(const RoleRule& role, size_t class_index) const {
  if (class_index < role.per_class.size() && role.per_class[class_index].has_value()) {
    return *role.per_class[class_index];
  }
  if (role.default_action.has_value()) return *role.default_action;
  if (default_role_ != nullptr && &role != default_role_) {
    return RoleAction(*default_role_, class_index);
  }
  return Action::kMask;
}

bool Policy::UsesTokenize() const {
  for (const RoleRule& role : data_.roles) {
    for (size_t c = 0; c < data_.classifications.size(); ++c) {
      if (RoleAction(role, c) == Action::kTokenize) return true;
    }
  }
  for (const TableRule& table : data_.tables) {
    for (const ColumnRule& column : table.columns) {
      if (column.mask.kind == MaskKind::kTokenize) return true;
    }
  }
  return false;
}

bool Policy::UsesHash() const {
  for (const TableRule& table : data_.tables) {
    for (const ColumnRule& column : table.columns) {
      if (column.mask.kind == MaskKind::kHash) return true;
    }
  }
  return false;
}

}  // namespace pgmask::policy
