#include "policy/literal_free_text.h"

#include <pg_query.h>

#include "policy/nesting_check.h"

namespace pgmask::policy {
namespace {

// Too short to nest past kMaxExpressionDepth (a level takes at least one character), so the
// scan CheckNesting makes, which costs as much as normalizing, can be skipped.
constexpr size_t kShallowText = kMaxExpressionDepth;

}  // namespace

std::optional<std::string> LiteralFreeText(std::string_view sql) {
  if (sql.find('$') != std::string_view::npos) return std::nullopt;
  // Normalizing parses and walks the tree, so it needs the guard against deep nesting that
  // parsing has.
  if (sql.size() > kShallowText && !CheckNesting(sql).ok()) return std::nullopt;
  const std::string text(sql);
  PgQueryNormalizeResult result = pg_query_normalize(text.c_str());
  std::optional<std::string> normalized;
  if (result.error == nullptr && result.normalized_query != nullptr) normalized = result.normalized_query;
  pg_query_free_normalize_result(result);
  return normalized;
}

}  // namespace pgmask::policy
