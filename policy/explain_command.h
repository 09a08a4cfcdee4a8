// The logic behind `pgmask explain --policy P --role R [--json] SQL`: what a role would see for
// each statement of SQL — every output column's name, lineage, class and treatment, the
// inference findings, the functions called and the refusal, if any. proxy/ parses the command
// line; with --upstream it builds a live CatalogView and the role's memberships and calls
// ExplainStatements itself.
//
// Exit codes: 0 every statement would run, 2 some statement would be refused, 1 the policy
// could not be loaded.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "policy/catalog_view.h"
#include "policy/policy.h"

namespace pgmask::policy {

// Offline mode: no database. The role's memberships are the role itself, and the catalog is
// OfflineCatalog(policy) (see catalog_view.h for what it cannot know); the report says so.
int RunExplainCommand(std::string_view policy_path, std::string_view role, std::string_view sql, bool json,
                      std::ostream& out, std::ostream& err);

// Explains `sql` for a session that belongs to `session_roles`, against `catalog`.
// `catalog_note` describes where the catalog came from ("offline: ...", "live: host:port").
int ExplainStatements(const Policy& policy, absl::Span<const std::string> session_roles, std::string_view sql,
                      const CatalogView& catalog, std::string_view catalog_note, bool json, std::ostream& out);

}  // namespace pgmask::policy
