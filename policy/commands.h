// The logic behind `pgmask check` and `pgmask detokenize`; proxy/ parses the command line and
// calls these. Both return the process exit code.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "policy/key_file.h"

namespace pgmask::policy {

// Validates the policy file. Errors: one `file:line:column: message` line each on `err`,
// returns 1. Valid: a one-screen summary on `out` (classifications, tables and columns, roles,
// settings, break-glass, the keys it needs, SHA-256), returns 0.
int RunCheckCommand(std::string_view policy_path, std::ostream& out, std::ostream& err);

// Reverses tokens made by `tokenize` with `token_key` for a column of type `type_name` (a SQL
// type name such as text, varchar, int4, bigint, numeric, date, timestamptz, uuid, inet; see
// ColumnTypeFromName). Prints one value per line on `out`; a value that is not a token of that
// type is reported by position on `err` (never echoed) and makes the result 1.
int RunDetokenizeCommand(const Key& token_key, std::string_view type_name,
                         absl::Span<const std::string> tokens, std::ostream& out,
                         std::ostream& err);

}  // namespace pgmask::policy
