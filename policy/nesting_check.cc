#include "policy/nesting_check.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace pgmask::policy {
namespace {

enum class TokenRole { kOpen, kClose, kOperator, kLeftDeep, kChainEnd, kStatementEnd, kOther };

TokenRole RoleOf(const PgQuery__ScanToken& t) {
  switch (t.token) {
    case PG_QUERY__TOKEN__ASCII_40:  // (
    case PG_QUERY__TOKEN__ASCII_91:  // [
    case PG_QUERY__TOKEN__CASE:
      return TokenRole::kOpen;
    case PG_QUERY__TOKEN__ASCII_41:  // )
    case PG_QUERY__TOKEN__ASCII_93:  // ]
    case PG_QUERY__TOKEN__END_P:
      return TokenRole::kClose;
    case PG_QUERY__TOKEN__ASCII_37:  // %
    case PG_QUERY__TOKEN__ASCII_42:  // *
    case PG_QUERY__TOKEN__ASCII_43:  // +
    case PG_QUERY__TOKEN__ASCII_45:  // -
    case PG_QUERY__TOKEN__ASCII_47:  // /
    case PG_QUERY__TOKEN__ASCII_60:  // <
    case PG_QUERY__TOKEN__ASCII_61:  // =
    case PG_QUERY__TOKEN__ASCII_62:  // >
    case PG_QUERY__TOKEN__ASCII_94:  // ^
    case PG_QUERY__TOKEN__Op:
    case PG_QUERY__TOKEN__TYPECAST:
    case PG_QUERY__TOKEN__NOT:
    case PG_QUERY__TOKEN__IS:
    case PG_QUERY__TOKEN__LIKE:
    case PG_QUERY__TOKEN__ILIKE:
    case PG_QUERY__TOKEN__SIMILAR:
    case PG_QUERY__TOKEN__BETWEEN:
    case PG_QUERY__TOKEN__COLLATE:
    case PG_QUERY__TOKEN__AT:
      return TokenRole::kOperator;
    case PG_QUERY__TOKEN__UNION:
    case PG_QUERY__TOKEN__INTERSECT:
    case PG_QUERY__TOKEN__EXCEPT:
    case PG_QUERY__TOKEN__JOIN:
      return TokenRole::kLeftDeep;
    case PG_QUERY__TOKEN__ASCII_44:  // ,
      return TokenRole::kChainEnd;
    case PG_QUERY__TOKEN__ASCII_59:  // ;
      return TokenRole::kStatementEnd;
    default:
      return t.keyword_kind == PG_QUERY__KEYWORD_KIND__NO_KEYWORD ? TokenRole::kOther : TokenRole::kChainEnd;
  }
}

using ScanTokens = std::unique_ptr<PgQuery__ScanResult, void (*)(PgQuery__ScanResult*)>;

// The tokens of `text`; null when the scanner reports an error (`lexical_error` set) or its
// output cannot be read.
ScanTokens Scan(const std::string& text, bool& lexical_error) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  ScanTokens tokens(nullptr, [](PgQuery__ScanResult* r) { pg_query__scan_result__free_unpacked(r, nullptr); });
  lexical_error = scan.error != nullptr;
  if (!lexical_error) {
    tokens.reset(
        pg_query__scan_result__unpack(nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data)));
  }
  pg_query_free_scan_result(scan);
  return tokens;
}

}  // namespace

int MaxParameterNumber(std::string_view sql) {
  const std::string text(sql);
  bool lexical_error = false;
  const ScanTokens tokens = Scan(text, lexical_error);
  if (tokens == nullptr) return 0;
  int max = 0;
  for (size_t i = 0; i < tokens->n_tokens; ++i) {
    const PgQuery__ScanToken& t = *tokens->tokens[i];
    if (t.token != PG_QUERY__TOKEN__PARAM || t.end <= t.start + 1) continue;
    // "$12": the digits after the dollar sign; absurd numbers are capped by the protocol's int16.
    const int n = std::atoi(text.substr(static_cast<size_t>(t.start) + 1, static_cast<size_t>(t.end - t.start - 1)).c_str());
    if (n > max) max = std::min(n, 65535);
  }
  return max;
}

absl::Status CheckNesting(std::string_view sql, int max_depth) {
  if (sql.size() > kMaxAnalysedSqlBytes) {
    return absl::InvalidArgumentError("statement too long to analyse");
  }
  const std::string text(sql);
  bool lexical_error = false;
  const ScanTokens tokens = Scan(text, lexical_error);
  if (lexical_error) return absl::OkStatus();  // the parser reports the same error itself
  if (tokens == nullptr) return absl::InvalidArgumentError("statement could not be scanned");
  // Per open bracket: the depth it started at, the set operations and joins inside it (each
  // nests the ones before it, whatever comes between) and the length of the operator chain.
  struct Frame {
    int base;
    int left_deep;
    int chain;
    int depth() const { return base + left_deep + chain; }
  };
  std::vector<Frame> frames{{0, 0, 0}};
  for (size_t i = 0; i < tokens->n_tokens; ++i) {
    Frame& top = frames.back();
    switch (RoleOf(*tokens->tokens[i])) {
      case TokenRole::kOpen:
        frames.push_back({top.depth() + 1, 0, 0});
        break;
      case TokenRole::kClose:
        if (frames.size() > 1) frames.pop_back();
        break;
      case TokenRole::kOperator:
        ++top.chain;
        break;
      case TokenRole::kLeftDeep:
        ++top.left_deep;
        top.chain = 0;
        break;
      case TokenRole::kChainEnd:
        top.chain = 0;
        break;
      case TokenRole::kStatementEnd:
        top.left_deep = 0;
        top.chain = 0;
        break;
      case TokenRole::kOther:
        break;
    }
    if (frames.back().depth() > max_depth) {
      return absl::InvalidArgumentError("statement nested too deeply to analyse");
    }
  }
  return absl::OkStatus();
}

}  // namespace pgmask::policy
