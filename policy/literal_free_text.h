// A statement's text with its constants replaced by $n (libpg_query's normalize): texts that
// differ only in constants share it, so one plan can serve them all when the analysis did not look
// at any constant (StatementAnalysis::literal_sensitive).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgmask::policy {

// nullopt when the text does not parse, or holds a '$' anywhere: a parameter $n written by the
// client would be indistinguishable from a replaced constant ("SELECT $1, 5" and "SELECT $1, $2"
// both give "SELECT $1, $2").
std::optional<std::string> LiteralFreeText(std::string_view sql);

}  // namespace pgmask::policy
