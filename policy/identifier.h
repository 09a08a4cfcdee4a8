// How names in the policy file are matched against the PostgreSQL catalog.
//
// Table, column and role names are compared byte for byte with what the catalog stores
// (pg_namespace.nspname, pg_class.relname, pg_attribute.attname, pg_authid.rolname).
// PostgreSQL folds unquoted SQL identifiers to lower case before storing them, so the policy
// follows the same spelling rules as SQL:
//   - a bare name (`patients`, `app_backend`) must already be in its stored, lower-case form;
//     a bare name with upper-case letters is an error rather than a silent non-match, because a
//     column that matches nothing would go out unmasked;
//   - a name created quoted (`CREATE TABLE "Patients"`, role `"app-user"`) is written with its
//     double quotes inside the YAML string (`'"Patients"'`), with "" standing for one quote.
// Names longer than 63 bytes (NAMEDATALEN - 1) are errors: PostgreSQL would truncate them.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pgmask::policy {

inline constexpr size_t kMaxIdentifierBytes = 63;

// Parses one identifier (bare or double-quoted) into its catalog form.
absl::StatusOr<std::string> ParseIdentifier(std::string_view text);

struct QualifiedName {
  std::string schema;
  std::string name;
};

// Parses `schema.table` or `table` (which means `public.table`).
absl::StatusOr<QualifiedName> ParseQualifiedName(std::string_view text);

// A function name in `trusted_functions`: `name` (any schema) or `schema.name`.
struct FunctionName {
  std::string schema;  // empty: any schema
  std::string name;
};
absl::StatusOr<FunctionName> ParseFunctionName(std::string_view text);

// Writes a catalog name the way a user would type it: bare when that round-trips, else quoted.
std::string QuoteIdentifierIfNeeded(std::string_view name);

// `text` as an E'' string literal, which reads the same whatever standard_conforming_strings the
// session has set: for SQL pgmask sends in the client's own session.
std::string EscapeStringLiteral(std::string_view text);

}  // namespace pgmask::policy
