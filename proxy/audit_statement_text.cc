#include "proxy/audit_statement_text.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cstdlib>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "policy/nesting_check.h"

namespace pgmask::proxy {
namespace {

// Bounded: past this many distinct texts the fingerprint cache starts over.
constexpr size_t kMaxCachedFingerprints = 4096;

using ScanTokens = std::unique_ptr<PgQuery__ScanResult, void (*)(PgQuery__ScanResult*)>;

ScanTokens Scan(const std::string& text) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  ScanTokens tokens(nullptr, [](PgQuery__ScanResult* r) { pg_query__scan_result__free_unpacked(r, nullptr); });
  if (scan.error == nullptr) {
    tokens.reset(
        pg_query__scan_result__unpack(nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data)));
  }
  pg_query_free_scan_result(scan);
  return tokens;
}

bool IsConstant(PgQuery__Token t) {
  switch (t) {
    case PG_QUERY__TOKEN__SCONST:
    case PG_QUERY__TOKEN__USCONST:
    case PG_QUERY__TOKEN__FCONST:
    case PG_QUERY__TOKEN__ICONST:
    case PG_QUERY__TOKEN__BCONST:
    case PG_QUERY__TOKEN__XCONST:
      return true;
    default:
      return false;
  }
}

bool IsComment(PgQuery__Token t) { return t == PG_QUERY__TOKEN__SQL_COMMENT || t == PG_QUERY__TOKEN__C_COMMENT; }

// Tokens [begin, end) of `text` as one statement's audit text.
std::string Rebuild(const std::string& text, const PgQuery__ScanResult& tokens, size_t begin, size_t end) {
  int max_param = 0;
  for (size_t i = begin; i < end; ++i) {
    const PgQuery__ScanToken& t = *tokens.tokens[i];
    if (t.token != PG_QUERY__TOKEN__PARAM || t.end <= t.start + 1) continue;
    const int n = std::atoi(text.substr(t.start + 1, t.end - t.start - 1).c_str());
    if (n > max_param) max_param = std::min(n, 65535);
  }
  std::string out;
  int32_t previous_end = begin < end ? tokens.tokens[begin]->start : 0;
  bool separated = false;  // whitespace or a comment since the previous token
  for (size_t i = begin; i < end; ++i) {
    const PgQuery__ScanToken& t = *tokens.tokens[i];
    for (int32_t k = previous_end; k < t.start && !separated; ++k) {
      separated = absl::ascii_isspace(static_cast<unsigned char>(text[k]));
    }
    previous_end = t.end;
    if (IsComment(t.token)) {
      separated = true;
      continue;
    }
    if (!out.empty() && separated) out.push_back(' ');
    separated = false;
    if (IsConstant(t.token)) {
      absl::StrAppendFormat(&out, "$%d", ++max_param);
    } else {
      out.append(text, t.start, t.end - t.start);
    }
  }
  return out;
}

// Texts differing only in their constants share a rebuilt text, so its fingerprint (a parse) is
// computed once per thread.
std::string Fingerprint(const std::string& query) {
  if (query.empty()) return std::string();
  thread_local absl::flat_hash_map<std::string, std::string> cache;
  const auto it = cache.find(query);
  if (it != cache.end()) return it->second;
  std::string out;
  // Parsing needs the analyzer's guard against deep nesting; a text too short to nest that deep
  // skips the scan it costs.
  const bool shallow = query.size() <= static_cast<size_t>(policy::kMaxExpressionDepth);
  if (!shallow && !policy::CheckNesting(query).ok()) return out;
  PgQueryFingerprintResult result = pg_query_fingerprint(query.c_str());
  if (result.error == nullptr && result.fingerprint_str != nullptr) out = result.fingerprint_str;
  pg_query_free_fingerprint_result(result);
  if (cache.size() >= kMaxCachedFingerprints) cache.clear();
  cache.emplace(query, out);
  return out;
}

}  // namespace

std::string AuditQueryText(std::string_view sql) {
  const std::string text(sql);
  const ScanTokens tokens = Scan(text);
  if (tokens == nullptr) return std::string();
  std::string out = Rebuild(text, *tokens, 0, tokens->n_tokens);
  while (!out.empty() && (out.back() == ';' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<AuditStatementText> AuditStatementTexts(std::string_view sql) {
  std::vector<AuditStatementText> out;
  const std::string text(sql);
  const ScanTokens tokens = Scan(text);
  if (tokens == nullptr) return out;
  // One statement per ';' at the top level, as the server splits a simple Query; statements
  // with no token but comments are not statements.
  size_t begin = 0;
  for (size_t i = 0; i <= tokens->n_tokens; ++i) {
    if (i < tokens->n_tokens && tokens->tokens[i]->token != PG_QUERY__TOKEN__ASCII_59) continue;
    AuditStatementText entry;
    entry.query = Rebuild(text, *tokens, begin, i);
    begin = i + 1;
    if (entry.query.empty()) continue;
    entry.fingerprint = Fingerprint(entry.query);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace pgmask::proxy
