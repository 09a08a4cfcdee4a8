// The person-name dictionary of `pgmask scan`: common given names and surnames.
//
// Size: about 190 given names and 140 surnames, the most frequent in US census and SSA
// tables plus the most frequent of the larger European, Latin American, South and East Asian,
// Middle Eastern and African naming traditions. A column of names is recognised when a good
// share of its sampled values contain one such word, so the list only needs to catch the
// frequent names, not every name; a bigger list mostly adds words that are also ordinary nouns
// and place names (traps for precision).
#pragma once

#include <string_view>

namespace pgmask::policy {

// `word` (ASCII case-insensitive) is a common given name or surname.
bool IsCommonPersonName(std::string_view word);

}  // namespace pgmask::policy
