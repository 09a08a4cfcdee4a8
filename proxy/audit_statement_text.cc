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

// The end of the U&"..." identifier at `start` ("" inside stands for a quote).
int32_t UnicodeIdentifierEnd(const std::string& text, int32_t start) {
  const size_t open = text.find('"', static_cast<size_t>(start));
  if (open == std::string::npos) return start + 1;
  for (size_t j = open + 1; j < text.size(); ++j) {
    if (text[j] != '"') continue;
    if (j + 1 < text.size() && text[j + 1] == '"') {
      ++j;
      continue;
    }
    return static_cast<int32_t>(j + 1);
  }
  return static_cast<int32_t>(text.size());
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
    if (t.start < previous_end) continue;  // inside a U&"..." copied whole
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
    } else if (t.token == PG_QUERY__TOKEN__UIDENT) {
      // The scanner's span of U&"..." covers only the U: the identifier is copied to its quote.
      const int32_t close = UnicodeIdentifierEnd(text, t.start);
      out.append(text, t.start, close - t.start);
      previous_end = close;
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

// Whether `text` parses (guarded against deep nesting as the analysis is).
bool Parses(const std::string& text) {
  if (!policy::CheckNesting(text).ok()) return false;
  PgQueryParseResult result = pg_query_parse(text.c_str());
  const bool ok = result.error == nullptr;
  pg_query_free_parse_result(result);
  return ok;
}

}  // namespace

std::optional<std::string> AsTheServerReadsIt(std::string_view sql, const AuditTextOptions& options) {
  if (options.standard_strings) {
    if (!options.parsed) return std::nullopt;
    return std::string(sql);
  }
  // The analysis parsed the text as standard_conforming_strings on reads it, so whether it parsed
  // says nothing here: the text as the server reads it (strings emptied) is parsed instead.
  std::optional<std::string> read = EmptyStringsWithoutStandardStrings(sql);
  if (!read || !Parses(*read)) return std::nullopt;
  return read;
}

std::optional<std::string> EmptyStringsWithoutStandardStrings(std::string_view sql) {
  const auto ident = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  std::string out;
  out.reserve(sql.size());
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t end = sql.find('\n', i);
      const size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t depth = 0;
      size_t j = i;
      do {
        if (j + 1 >= sql.size()) return std::nullopt;
        if (sql[j] == '/' && sql[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (sql[j] == '*' && sql[j + 1] == '/') {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      } while (depth > 0);
      out.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= sql.size()) return std::nullopt;
        if (sql[j] != '"') continue;
        if (j + 1 < sql.size() && sql[j + 1] == '"') {
          ++j;
          continue;
        }
        break;
      }
      out.append(sql.substr(i, j + 1 - i));
      i = j + 1;
    } else if (c == '$' && (i == 0 || !ident(sql[i - 1])) && i + 1 < sql.size() &&
               !absl::ascii_isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      // A dollar quote $tag$...$tag$ (a '$' that does not end a tag is an operator character).
      size_t j = i + 1;
      while (j < sql.size() && ident(sql[j]) && sql[j] != '$') ++j;
      if (j >= sql.size() || sql[j] != '$') {
        out.append(sql.substr(i, j - i));
        i = j;
        continue;
      }
      const std::string_view tag = sql.substr(i, j + 1 - i);
      const size_t close = sql.find(tag, j + 1);
      if (close == std::string_view::npos) return std::nullopt;
      out.append(sql.substr(i, close + tag.size() - i));
      i = close + tag.size();
    } else if (c == '\'') {
      // The identifier glued to the quote is its prefix: E escapes, B and X hold no backslash, U&
      // is an error with the setting off, anything else (N, none) reads backslashes as escapes.
      size_t p = out.size();
      while (p > 0 && ident(out[p - 1])) --p;
      const std::string prefix = absl::AsciiStrToLower(out.substr(p));
      const bool unicode = out.size() >= 2 && out.back() == '&' && absl::ascii_tolower(out[out.size() - 2]) == 'u';
      const bool escapes = !unicode && prefix != "b" && prefix != "x";
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= sql.size()) return std::nullopt;
        if (escapes && sql[j] == '\\') {
          ++j;
          continue;
        }
        if (sql[j] != '\'') continue;
        if (j + 1 < sql.size() && sql[j + 1] == '\'') {
          ++j;
          continue;
        }
        break;
      }
      if (prefix == "n" || prefix == "e") out.resize(p);  // '' needs no prefix
      out.append("''");
      i = j + 1;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

std::string AuditQueryText(std::string_view sql, const AuditTextOptions& options) {
  const std::optional<std::string> read = AsTheServerReadsIt(sql, options);
  if (!read) return std::string();
  sql = *read;
  const std::string text(sql);
  const ScanTokens tokens = Scan(text);
  if (tokens == nullptr) return std::string();
  std::string out = Rebuild(text, *tokens, 0, tokens->n_tokens);
  while (!out.empty() && (out.back() == ';' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<AuditStatementText> AuditStatementTexts(std::string_view sql, const AuditTextOptions& options) {
  std::vector<AuditStatementText> out;
  const std::optional<std::string> read = AsTheServerReadsIt(sql, options);
  if (!read) return out;
  sql = *read;
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
