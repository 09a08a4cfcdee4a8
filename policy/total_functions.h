// Built-in functions, operators and casts whose errors cannot depend on an argument's value.
//
// A computation over a protected value that fails for some values (a division by a digit of it,
// a cast to a number, an overflow) tells the client one bit of that value through the error,
// even when the result is redacted. The analyzer counts every other computation over a protected
// value as a condition on it (settings.inference), so these lists err towards "can fail": a
// function missing here is only refused for restricted roles under inference: deny, never
// passed in clear.
#pragma once

#include <cstddef>
#include <string_view>

namespace pgmask::policy {

// Whether built-in function `name` cannot fail because of the value of its argument at
// `position` (0-based). Only for functions PostgreSQL itself defines: a user-defined or trusted
// one may fail on anything. format and convert_to depend on their other, literal, arguments:
// the analyzer decides those.
bool CannotFailOnArgument(std::string_view name, size_t position);

// Whether operator `op` (prefix: it has no left operand) cannot fail because of its operands'
// values: || (text, JSON), the JSON accessors -> ->> #> #>>, prefix + and ~. Arithmetic can
// divide by zero or overflow, so it counts as able to fail.
bool OperatorCannotFail(std::string_view op, bool prefix);

// Whether a cast to type `schema`.`type` (schema empty when unqualified; no array bounds) accepts
// every value of any type: the string types text, varchar, bpchar and name of pg_catalog. The
// same name in another schema is a domain or a user's type, whose CHECK or input can fail.
bool CastCannotFail(std::string_view schema, std::string_view type);

// Whether `type` is a name CastCannotFail accepts unqualified. A type of that name created in
// pg_temp (searched first for types) or ahead of pg_catalog in search_path takes over those casts.
bool IsUnfailingCastTypeName(std::string_view type);

}  // namespace pgmask::policy
