#include "proxy/session_state.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/strings/str_format.h"
#include "proxy/break_glass.h"
#include "policy/function_rules.h"
#include "proxy/log.h"

namespace pgmask::proxy {

void SessionState::ActivateCatalog(SessionCatalog next) {
  // Plans hold indexes into the policy they were made for.
  if (next.policy != catalog.policy) ForgetNamedState();
  catalog = std::move(next);
  // A reloaded policy (or a changed role) that no longer allows break-glass ends it before the
  // statement this catalog was read for runs.
  if (break_glass.has_value() && BreakGlassRefusal(*this)) EndBreakGlass(*this, "revoked");
  // Other connections' DDL is known up to the last read that could see it.
  if (catalog.current) {
    catalog_read_at = std::chrono::steady_clock::now();
    current_read_through = catalog.read_through;
  }
  policy_unread = false;
  settings_pending = false;
  names_pending = false;
  refresh_failures = 0;
  ApplyActions();
  Logf(LogLevel::kDebug, "session=%s catalog: %d roles, %d protected columns, %d relations, %s", id,
       catalog.roles.size(), catalog.columns.size(),
       catalog.view != nullptr ? catalog.view->data().relations.size() : 0, restricted ? "restricted" : all_clear ? "all clear" : "clear, recorded");
}

void SessionState::ApplyActions() {
  actions = policy::ResolveEffectiveActions(*catalog.policy, catalog.roles);
  restricted = policy::IsRestricted(*catalog.policy, *actions);
  if (break_glass.has_value()) {
    actions = policy::EffectiveActions(
        std::vector<policy::Action>(catalog.policy->classifications().size(), policy::Action::kClear),
        actions->matched_roles());
    restricted = false;
  }
  // A session that sees everything in clear is still analysed when its reads of protected columns
  // are recorded (break-glass, or any trail kept), but nothing of it is masked or refused.
  const bool recorded =
      break_glass.has_value() || (proxy.audit != nullptr && (!catalog.columns.empty() || policy_unread));
  // Named state is not followed while everything is in clear: what a session that becomes
  // restricted (a REVOKE seen by a recheck) prepared or declared before is untraceable, and
  // plans kept from an earlier restricted spell may name what it redefined since.
  if (all_clear && (restricted || recorded)) ForgetNamedState();
  all_clear = !restricted && !recorded;
  masker.Reset(restricted ? &catalog : nullptr, &*actions, &proxy.policies.keys());
}

void SessionState::NoteParameter(std::string_view name, std::string_view value) {
  std::string* refusal = name == "client_encoding"               ? &encoding_refusal
                         : name == "standard_conforming_strings" ? &quoting_refusal
                                                                 : nullptr;
  if (refusal == nullptr) return;
  const std::optional<std::string> reason = policy::SettingChangeReason(name, value);
  *refusal = reason ? absl::StrFormat("pgmask: statement refused: %s (this session has %s = %s)", *reason, name, value)
                    : std::string();
  text_settings_refusal = !encoding_refusal.empty() ? encoding_refusal : quoting_refusal;
}

void SessionState::AdoptPolicy(std::shared_ptr<const policy::Policy> policy) {
  ForgetNamedState();
  catalog.policy = std::move(policy);
  // Indexes into the old policy; the next read finds the new one's.
  catalog.columns.clear();
  policy_unread = true;
  catalog_stale = true;
  if (break_glass.has_value() && BreakGlassRefusal(*this)) EndBreakGlass(*this, "revoked");
  ApplyActions();
  Logf(LogLevel::kInfo,
       "session=%s policy applied before the catalog could be read for it; statements naming relations are refused "
       "until it is",
       id);
}

void SessionState::FinishRefresh() {
  std::unique_ptr<CatalogRefresh> done = std::move(refresh);
  const std::shared_ptr<const policy::Policy> read_for = done->policy();
  auto next = std::move(*done).Finish(proxy.catalogs, database);
  // Seen through the transaction's snapshot: what other connections changed since it was taken is
  // missing, which must not undo what an earlier read saw.
  if (next.ok() && !next->current &&
      (!current_read_through.has_value() || !next->read_through.SeesAllOf(*current_read_through))) {
    next = absl::FailedPreconditionError(
        "the transaction's snapshot is older than the catalog already read, as after SET TRANSACTION SNAPSHOT");
  }
  if (next.ok()) {
    ActivateCatalog(*std::move(next));
    // A read that could not bring the catalog up to date would not if repeated for the message
    // it was read for.
    if (catalog_outdated()) refresh_retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  } else {
    // Keep the catalog we have, and what is pending on it (names_pending, settings_pending)
    // keeps its statements refused or redacted. The held message goes on rather than wait for a
    // read that failed (a session's own settings can make every read fail), and the next read
    // waits a little longer each time.
    catalog_stale = true;
    ++refresh_failures;
    const absl::Duration wait = std::min(proxy.config.catalog_recheck,
                                         absl::Milliseconds(100) * (1 << std::min(refresh_failures, 10)));
    refresh_retry_at = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(wait);
    Logf(LogLevel::kWarn, "session=%s catalog refresh failed (%s); keeping the previous catalog, next try in %s", id,
         next.status().message(), absl::FormatDuration(wait));
    // A reload the read was for takes effect without it.
    if (read_for != catalog.policy) AdoptPolicy(read_for);
  }
  if (release_client) release_client();
}

}  // namespace pgmask::proxy
