// The immutable policy model: what the security team's YAML file says, validated and indexed.
// Built only by the loader (policy_loader.h); shared between sessions as shared_ptr<const Policy>
// so a reload never changes a policy a running statement is using.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "policy/identifier.h"
#include "policy/mask_spec.h"

namespace pgmask::policy {

enum class Tier { kRestricted, kConfidential, kInternal, kPublic };

// Declared most to least permissive: a smaller value is more permissive.
enum class Action { kClear, kTokenize, kMask, kNull, kDeny };

enum class Inference { kDeny, kAllow };

std::string_view TierName(Tier tier);
std::string_view ActionName(Action action);
std::optional<Tier> ParseTier(std::string_view text);
std::optional<Action> ParseAction(std::string_view text);

constexpr Action MorePermissive(Action a, Action b) { return a < b ? a : b; }

// The role entry for "every role not listed".
inline constexpr std::string_view kDefaultRoleName = "*";

struct Classification {
  std::string name;
  Tier tier = Tier::kRestricted;
  std::string description;
};

struct ColumnRule {
  std::string name;            // catalog form (see identifier.h)
  std::string classification;
  size_t class_index = 0;      // index into Policy::classifications()
  MaskSpec mask;               // `redact` when the file gives none
};

struct TableRule {
  std::string schema;
  std::string name;
  std::optional<std::string> key;  // row key column for the audit trail
  std::vector<ColumnRule> columns;
};

struct RoleRule {
  std::string name;                             // catalog form, or "*"
  std::optional<Action> default_action;
  std::vector<std::optional<Action>> per_class;  // by class index
};

struct Settings {
  Inference inference = Inference::kDeny;
  std::vector<FunctionName> trusted_functions;
  // Channels whose notification payloads restricted sessions receive as sent (exact names, as the
  // server reports them); every other payload reaches them empty.
  std::vector<std::string> clear_notification_channels;
};

struct BreakGlass {
  std::vector<std::string> roles;
  int max_minutes = 0;
};

// Everything the loader collected; Policy adds the indexes.
struct PolicyData {
  std::string source_name;  // file name used in messages
  std::string sha256_hex;   // of the file's bytes
  std::vector<Classification> classifications;
  std::vector<TableRule> tables;
  std::vector<RoleRule> roles;  // in file order, "*" included
  Settings settings;
  std::optional<BreakGlass> break_glass;
};

class Policy {
 public:
  explicit Policy(PolicyData data);

  const std::string& source_name() const { return data_.source_name; }
  const std::string& sha256_hex() const { return data_.sha256_hex; }
  const std::vector<Classification>& classifications() const { return data_.classifications; }
  const std::vector<TableRule>& tables() const { return data_.tables; }
  const std::vector<RoleRule>& roles() const { return data_.roles; }
  const Settings& settings() const { return data_.settings; }
  const std::optional<BreakGlass>& break_glass() const { return data_.break_glass; }

  std::optional<size_t> FindClassification(std::string_view name) const;
  const TableRule* FindTable(std::string_view schema, std::string_view table) const;
  // The rule protecting schema.table.column, or null when the column is not protected.
  const ColumnRule* FindColumn(std::string_view schema, std::string_view table,
                               std::string_view column) const;
  // A listed role (not "*"), or null.
  const RoleRule* FindRole(std::string_view role) const;
  // The "*" entry, or null when the file has none.
  const RoleRule* default_role() const { return default_role_; }

  // The action a listed role's entry gives a class: the class's own entry, else the role's
  // `default`, else the "*" entry's action for the class, else mask (fail closed).
  Action RoleAction(const RoleRule& role, size_t class_index) const;

  // Whether any role or column can need the token key / the hash key.
  bool UsesTokenize() const;
  bool UsesHash() const;

 private:
  PolicyData data_;
  absl::flat_hash_map<std::string, size_t> class_index_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, size_t>> table_index_;
  std::vector<absl::flat_hash_map<std::string, size_t>> column_index_;  // by table index
  absl::flat_hash_map<std::string, size_t> role_index_;
  const RoleRule* default_role_ = nullptr;
};

}  // namespace pgmask::policy
