// A bound on how deeply a statement's expressions nest, computed from the tokens alone, before
// the statement is given to the parser. libpg_query's tree output and protobuf-c's unpacking
// recurse once per level, so a long `a || a || ...` chain or deep parentheses would overflow the
// stack of the thread that parses: such statements are refused instead of parsed.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace pgmask::policy {

// Expression levels the parser and the analysis may see. A chain of UNIONs or JOINs nests as
// deeply as one of operators: 10,000 UNIONs or 5,000 JOINs overflowed the stack in
// protobuf-c's unpacking (PostgreSQL itself gives up at about 8,000 UNIONs).
inline constexpr int kMaxExpressionDepth = 1000;
// Statement text analysed at most; longer text is refused rather than parsed.
inline constexpr size_t kMaxAnalysedSqlBytes = size_t{16} << 20;

// InvalidArgument when `sql` is too long or its estimated nesting exceeds `max_depth`. The
// estimate counts parentheses, brackets and CASE...END as one level each and a chain of operators
// as one level per operator (PostgreSQL builds those left-deep); commas, AND, OR and other
// keywords end a chain, so long lists and flat conditions stay cheap. UNION, INTERSECT, EXCEPT
// and JOIN are left-deep too, and add a level each up to the end of their bracket or statement.
absl::Status CheckNesting(std::string_view sql, int max_depth = kMaxExpressionDepth);

// The highest `$n` parameter the statement text refers to (0 for none), from the same tokens.
int MaxParameterNumber(std::string_view sql);

}  // namespace pgmask::policy
