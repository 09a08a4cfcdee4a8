// Functions, relations and settings a restricted session may not use whatever the columns
// involved (BRIEF, "How a decision is made", item 4). Names are matched without their schema:
// extensions such as dblink install into any schema, and a user-defined function shadowing one of
// these names is refused as well (fail closed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmask::policy {

// Why a function is refused: it runs SQL text given as a string, reads files, large objects or
// other sessions' query text, or reaches another database. nullopt when none of these.
std::optional<std::string_view> ForbiddenFunctionReason(std::string_view name);

// Why a relation is refused: a catalog view or table exposing column statistics (most common
// values, histograms) or other sessions' query text. nullopt when none of these.
std::optional<std::string_view> ForbiddenRelationReason(std::string_view name);

// The channel a function sends an argument out through, outside the result rows the proxy masks
// (notification payloads, settings readable with SHOW, the WAL, a sequence's last_value, advisory
// lock keys in pg_locks, replication slot names, ...), or nullopt.
std::optional<std::string_view> OutOfBandChannel(std::string_view name);

// Whether built-in `name` searches its text for another of its arguments (a pattern, a set of
// characters, a delimiter): like LIKE, a comparison. Its result may be redacted, but how much
// work it does, and so how long it takes (replace(lpad(x, 4000000, x), '9', repeat('x', 64))),
// depends on whether the value matches.
bool SearchesItsText(std::string_view name);

// Whether PostgreSQL reads `name` as the UTF8 encoding: like its pg_char_to_encoding, ignoring
// case and every character but letters and digits, "utf8" or its alias "unicode".
bool IsUtf8EncodingName(std::string_view name);
// pg_temp, or a session's own temporary schema pg_temp_N, in any case.
bool IsTemporarySchema(std::string_view schema);
// Whether a search_path value lists a temporary schema.
bool NamesTemporarySchema(std::string_view search_path);
// Whether `name` could be read as some encoding's name, UTF8 included.
bool CouldBeEncodingName(std::string_view name);

// Why setting `name` to `value` is refused, or nullopt when it may change. `value` is the literal
// text, nullopt when it is not a literal (or, for set_config, not known before execution).
// Refused: standard_conforming_strings other than on and backslash_quote other than
// safe_encoding (the parser pgmask uses reads SQL text with exactly these), a client_encoding
// other than UTF8, and session_authorization. SET ROLE is allowed: it can never reach beyond the
// identity the proxy computed.
std::optional<std::string> SettingChangeReason(std::string_view name, std::optional<std::string_view> value);

// SettingChangeReason for the settings a StartupMessage makes: its parameters other than user,
// database, replication and options, and the -c name=value / --name=value switches inside
// `options` (split as PostgreSQL splits them: on white space, a backslash keeping the next
// character).
std::optional<std::string> StartupSettingReason(
    const std::vector<std::pair<std::string_view, std::string_view>>& parameters);

}  // namespace pgmask::policy
