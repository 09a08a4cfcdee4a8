#include "policy/effective_action.h"

#include <optional>

#include "absl/container/flat_hash_set.h"

namespace pgmask::policy {

EffectiveActions ResolveEffectiveActions(const Policy& policy,
                                         absl::Span<const std::string> session_roles) {
  const size_t classes = policy.classifications().size();
  absl::flat_hash_set<std::string_view> member_of(session_roles.begin(), session_roles.end());
  std::vector<const RoleRule*> listed;
  std::vector<std::string> matched;
  for (const RoleRule& role : policy.roles()) {
    // "*" is the entry for unlisted roles, never a role someone belongs to.
    if (role.name == kDefaultRoleName || !member_of.contains(role.name)) continue;
    listed.push_back(&role);
    matched.push_back(role.name);
  }
  std::vector<Action> actions(classes, Action::kMask);
  for (size_t c = 0; c < classes; ++c) {
    if (listed.empty()) {
      if (policy.default_role() != nullptr) actions[c] = policy.RoleAction(*policy.default_role(), c);
      continue;
    }
    std::optional<Action> best;
    for (const RoleRule* role : listed) {
      const Action a = policy.RoleAction(*role, c);
      best = best ? MorePermissive(*best, a) : a;
    }
    actions[c] = *best;
  }
  return EffectiveActions(std::move(actions), std::move(matched));
}

}  // namespace pgmask::policy
