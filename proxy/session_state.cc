#include "proxy/session_state.h"

#include "proxy/log.h"

namespace pgmask::proxy {

void SessionState::ActivateCatalog(SessionCatalog next) {
  catalog = std::move(next);
  actions = policy::ResolveEffectiveActions(*catalog.policy, catalog.roles);
  all_clear = true;
  for (policy::Action a : actions->all()) {
    if (a != policy::Action::kClear) all_clear = false;
  }
  masker.Reset(&catalog, &*actions, &proxy.policies.keys());
  Logf(LogLevel::kDebug, "session=%s catalog: %d roles, %d protected columns, %s", id, catalog.roles.size(),
       catalog.columns.size(), all_clear ? "all clear" : "restricted");
}

}  // namespace pgmask::proxy
