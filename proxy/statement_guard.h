// How a statement is refused before it reaches PostgreSQL: it is replaced by a statement that
// raises SQLSTATE 42501 itself, so the error arrives in order with every other response and the
// transaction fails exactly as it would on a real permission error.
#pragma once

#include <string>
#include <string_view>

#include "protocol/messages.h"

namespace pgmask::proxy {

inline constexpr std::string_view kPermissionDenied = "42501";
inline constexpr std::string_view kUndefinedTable = "42P01";

// SQL that fails with `sqlstate` and `message`.
std::string RefusalStatement(std::string_view message, std::string_view sqlstate = kPermissionDenied);

// A Query message running RefusalStatement(message, sqlstate), appended to `out`.
void AppendRefusalQuery(std::string_view message, std::string& out, std::string_view sqlstate = kPermissionDenied);
// A Parse message for the same statement name whose Execute raises instead. It declares as many
// parameters as the original uses (its own types, text for the rest), so every Bind the client
// sends for it has the right count; those Binds are rewritten to all-NULL values
// (AppendNullBind), which any type accepts in either format.
void AppendRefusalParse(const protocol::ParseView& parse, std::string_view message, std::string& out,
                        std::string_view sqlstate = kPermissionDenied);
// In place of the prepared statement `bind` names, which the server holds but may no longer run:
// a Close of it and a Parse under its name like AppendRefusalParse's, with as many text
// parameters as `bind` sends. The Bind that follows goes out as AppendNullBind.
void AppendRefusalReplacement(const protocol::BindView& bind, std::string_view message, std::string& out);
// In place of an Execute that may no longer run: Closes of pgmask's own `name` (statement and
// portal), then a Parse of the refusal under it, a Bind of portal `name` to it and its Execute.
void AppendRefusalExecute(std::string_view name, std::string_view message, std::string& out,
                          std::string_view sqlstate = kPermissionDenied);
// The Bind `bind` with every parameter value replaced by NULL.
void AppendNullBind(const protocol::BindView& bind, std::string& out);

}  // namespace pgmask::proxy
