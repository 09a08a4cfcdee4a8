// A bound on how deeply a statement's expressions nest, computed from the tokens alone, before
// the statement is given to the parser. libpg_query's tree output and protobuf-c's unpacking
// recurse once per level, so a long `a || a || ...` chain or deep parentheses would overflow the
// stack of the thread that parses: such statements are refused instead of parsed.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace pgmask::policy {

// Expression levels the parser and the analysis may see.
inline constexpr int kMaxExpressionDepth = 1000;
// Statement text analysed at most; longer text is refused rather than parsed.
inline constexpr size_t kMaxAnalysedSqlBytes = size_t{16} << 20;

// InvalidArgument when `sql` is too long or its estimated nesting exceeds `max_depth`. The
// estimate counts parentheses, brackets and CASE...END as one level each and a chain of operators
// as one level per operator (PostgreSQL builds those left-deep); commas, AND, OR and other
// keywords end a chain, so long lists and flat conditions stay cheap.
absl::Status CheckNesting(std::string_view sql, int max_depth = kMaxExpressionDepth);

// The highest `$n` parameter the statement text refers to (0 for none), from the same tokens.
int MaxParameterNumber(std::string_view sql);

}  // namespace pgmask::policy
