#include "policy/total_functions.h"

#include <array>
#include <cstdint>

namespace pgmask::policy {
namespace {

// Bit i: argument i cannot make the function fail; bit 31: nor can any argument from 31 on.
constexpr uint32_t kAll = ~uint32_t{0};
constexpr uint32_t kFirst = 1;
constexpr uint32_t kSecond = 2;
constexpr uint32_t kThird = 4;
constexpr uint32_t kOdd = 0x2AAAAAAA;  // values of json_build_object; a NULL key fails

struct TotalFunction {
  std::string_view name;
  uint32_t positions;
};

// Measured against PostgreSQL 15's definitions: these fail only on arguments a caller writes as
// constants (a format, a pattern, a length), never on the text or number they transform.
// Set-returning functions (unnest, regexp_matches, regexp_split_to_table, ...) never belong here:
// how many rows they return depends on their arguments, which count(*) or EXISTS reveal. Nor does
// repeat: repeat(x, n) fails past 1 GB, so a chosen n tells whether x is longer than 1 GB / n.
constexpr std::array kTotalFunctions = {
    // Text.
    TotalFunction{"upper", kAll}, TotalFunction{"lower", kAll}, TotalFunction{"initcap", kAll},
    TotalFunction{"length", kAll}, TotalFunction{"char_length", kAll}, TotalFunction{"character_length", kAll},
    TotalFunction{"octet_length", kAll}, TotalFunction{"bit_length", kAll}, TotalFunction{"md5", kAll},
    TotalFunction{"sha224", kAll}, TotalFunction{"sha256", kAll}, TotalFunction{"sha384", kAll},
    TotalFunction{"sha512", kAll}, TotalFunction{"hashtext", kFirst}, TotalFunction{"hashtextextended", kFirst},
    TotalFunction{"concat", kAll}, TotalFunction{"concat_ws", kAll},
    TotalFunction{"reverse", kAll}, TotalFunction{"quote_literal", kAll}, TotalFunction{"quote_ident", kAll},
    TotalFunction{"quote_nullable", kAll}, TotalFunction{"replace", kAll}, TotalFunction{"translate", kAll},
    TotalFunction{"strpos", kAll}, TotalFunction{"position", kAll}, TotalFunction{"starts_with", kAll},
    TotalFunction{"btrim", kAll}, TotalFunction{"ltrim", kAll}, TotalFunction{"rtrim", kAll},
    TotalFunction{"ascii", kAll}, TotalFunction{"to_hex", kAll}, TotalFunction{"left", kFirst},
    TotalFunction{"right", kFirst}, TotalFunction{"substr", kFirst}, TotalFunction{"substring", kFirst},
    TotalFunction{"split_part", kFirst | kSecond}, TotalFunction{"lpad", kFirst | kThird}, TotalFunction{"rpad", kFirst | kThird},
    TotalFunction{"encode", kFirst},
    TotalFunction{"regexp_replace", kFirst}, TotalFunction{"regexp_match", kFirst},
    TotalFunction{"to_char", kFirst},
    // Arrays.
    TotalFunction{"cardinality", kAll}, TotalFunction{"array_to_string", kAll},
    TotalFunction{"string_to_array", kAll}, TotalFunction{"regexp_split_to_array", kFirst},
    // JSON built from values.
    TotalFunction{"to_json", kAll}, TotalFunction{"to_jsonb", kAll}, TotalFunction{"row_to_json", kAll},
    TotalFunction{"array_to_json", kAll}, TotalFunction{"json_build_array", kAll},
    TotalFunction{"jsonb_build_array", kAll}, TotalFunction{"json_build_object", kOdd},
    TotalFunction{"jsonb_build_object", kOdd}, TotalFunction{"json_typeof", kAll}, TotalFunction{"jsonb_typeof", kAll},
    TotalFunction{"json_object_agg", kSecond}, TotalFunction{"jsonb_object_agg", kSecond}, TotalFunction{"xmlagg", kAll},
    // Aggregates and window functions. Not sum and avg: numeric, float, interval and money sums
    // overflow, and the other rows summed may be the client's own (a UNION with a literal, an
    // inserted row) chosen to land next to the limit, so whether the sum fails compares the
    // protected value with the client's number.
    TotalFunction{"count", kAll}, TotalFunction{"min", kAll}, TotalFunction{"max", kAll},
    TotalFunction{"array_agg", kAll}, TotalFunction{"string_agg", kAll},
    TotalFunction{"json_agg", kAll}, TotalFunction{"jsonb_agg", kAll}, TotalFunction{"bool_and", kAll},
    TotalFunction{"bool_or", kAll}, TotalFunction{"every", kAll}, TotalFunction{"first_value", kAll},
    TotalFunction{"last_value", kAll}, TotalFunction{"nth_value", kFirst}, TotalFunction{"lag", kFirst},
    TotalFunction{"lead", kFirst},
    // Dates: the field name is the caller's constant, the value may be anything.
    TotalFunction{"date_part", kSecond}, TotalFunction{"extract", kSecond}, TotalFunction{"date_trunc", kSecond},
    TotalFunction{"timezone", kSecond},  // AT TIME ZONE: a shift of hours, at most
};

}  // namespace

bool CannotFailOnArgument(std::string_view name, size_t position) {
  const uint32_t bit = position >= 31 ? uint32_t{1} << 31 : uint32_t{1} << position;
  for (const TotalFunction& f : kTotalFunctions) {
    if (f.name == name) return (f.positions & bit) != 0;
  }
  return false;
}

bool OperatorCannotFail(std::string_view op, bool prefix) {
  if (prefix) return op == "+" || op == "~";
  for (std::string_view total : {"||", "->", "->>", "#>", "#>>"}) {
    if (op == total) return true;
  }
  return false;
}

bool IsUnfailingCastTypeName(std::string_view type) {
  for (std::string_view total : {"text", "varchar", "bpchar", "name"}) {
    if (type == total) return true;
  }
  return false;
}

bool CastCannotFail(std::string_view schema, std::string_view type) {
  return (schema.empty() || schema == "pg_catalog") && IsUnfailingCastTypeName(type);
}

}  // namespace pgmask::policy
