// Where a statement's constants are, found by a small lexer that covers only the plain subset of
// PostgreSQL's SQL syntax and gives up on everything else. It lets the plan cache
// (proxy/query_plan.cc) find the plan of "SELECT ... WHERE aid = 42" when it has seen
// "... WHERE aid = 7", without libpg_query's normalize, which parses the whole statement and costs
// more than everything else pgmask does for it.
//
// Sound only if every text it accepts is tokenized exactly as PostgreSQL's lexer would: then two
// texts with the same key differ only in the values of constants at the same places, and parse
// into the same tree but for those values (a few grammar rules check a value, like float(54),
// and fail: PostgreSQL then refuses that text itself). So anything whose lexing depends on settings
// or on subtle rules makes it give up: '$' (parameters, dollar quotes, identifiers with '$'),
// comments, backslashes, E'' U&'' B'' X'' N'' strings, non-ASCII and control bytes, a quote
// character anywhere but around a plain string or identifier, and a number that runs into a
// letter, '_' or '.' ("0x1F", "1e", "1..2").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmask::policy {

struct ConstantToken {
  // As PostgreSQL's lexer tells them apart (ICONST, FCONST, SCONST): some places in the grammar
  // take only an integer that fits in 32 bits.
  enum class Kind { kInteger, kDecimal, kString };
  size_t offset = 0;
  size_t length = 0;
  Kind kind = Kind::kInteger;
};

// The constants of `sql` in order, or nullopt when the text is outside the subset.
std::optional<std::vector<ConstantToken>> ConstantTokens(std::string_view sql);

// Appends `sql` with each constant replaced by a byte naming its kind to `key` and returns true,
// or leaves `key` as it was and returns false when the text is outside the subset. The bytes
// cannot occur in an accepted text, so keys are equal only for texts equal outside constants.
bool AppendConstantBlindKey(std::string_view sql, std::string& key);

}  // namespace pgmask::policy
