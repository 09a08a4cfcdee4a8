// A session's action per classification (BRIEF, "Identity"): among the listed roles the session
// belongs to (login role plus transitive memberships, computed by the catalog layer), the most
// permissive action for each class; the "*" entry when it belongs to none; mask when the
// policy has no "*". A listed role that names neither the class nor a default takes the "*"
// entry's action for it, then mask (Policy::RoleAction).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "policy/policy.h"

namespace pgmask::policy {

class EffectiveActions {
 public:
  explicit EffectiveActions(std::vector<Action> actions, std::vector<std::string> matched_roles)
      : actions_(std::move(actions)), matched_roles_(std::move(matched_roles)) {}

  // Fail closed: an index the policy does not have gets deny.
  Action For(size_t class_index) const {
    return class_index < actions_.size() ? actions_[class_index] : Action::kDeny;
  }
  const std::vector<Action>& all() const { return actions_; }
  // The listed roles the session belongs to, in policy order; empty means "*" applied.
  const std::vector<std::string>& matched_roles() const { return matched_roles_; }

 private:
  std::vector<Action> actions_;
  std::vector<std::string> matched_roles_;
};

// `session_roles`: catalog role names (login role and every role it is a member of).
EffectiveActions ResolveEffectiveActions(const Policy& policy,
                                         absl::Span<const std::string> session_roles);

}  // namespace pgmask::policy
