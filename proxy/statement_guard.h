// Refuses, before it reaches PostgreSQL, a statement whose output would contain a column the
// session's role may not see at all (`deny`). The refusal is sent to the server as a statement
// that raises SQLSTATE 42501 itself, so the error arrives in order with every other response and
// the transaction fails exactly as it would on a real permission error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/copy_statement.h"
#include "policy/effective_action.h"
#include "policy/output_references.h"
#include "policy/policy.h"
#include "protocol/messages.h"

namespace pgmask::proxy {

// What pgmask needs to know about one statement text, found once and cached per thread.
struct StatementFacts {
  bool parsed = false;
  std::vector<policy::ProtectedReference> output;
  std::optional<policy::CopyToClient> copy;  // a COPY ... TO STDOUT
  std::string copy_error;                    // a COPY TO STDOUT pgmask cannot mask
};
const StatementFacts& AnalyzeStatement(std::string_view sql, const std::shared_ptr<const policy::Policy>& policy);

// The refusal message for a statement, or nullopt when it may run.
std::optional<std::string> CheckForDeniedOutput(const StatementFacts& facts, const policy::Policy& policy,
                                                const policy::EffectiveActions& actions);

// SQL that fails with SQLSTATE 42501 and `message`.
std::string RefusalStatement(std::string_view message);

// A Query message running RefusalStatement(message), appended to `out`.
void AppendRefusalQuery(std::string_view message, std::string& out);
// A Parse message for the same statement name whose Execute raises instead. It declares as many
// parameters as the original uses (its own types, text for the rest), so every Bind the client
// sends for it has the right count; those Binds are rewritten to all-NULL values
// (AppendNullBind), which any type accepts in either format.
void AppendRefusalParse(const protocol::ParseView& parse, std::string_view message, std::string& out);
// The Bind `bind` with every parameter value replaced by NULL.
void AppendNullBind(const protocol::BindView& bind, std::string& out);

}  // namespace pgmask::proxy
