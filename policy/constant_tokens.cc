#include "policy/constant_tokens.h"

#include <algorithm>

#include "absl/functional/function_ref.h"

namespace pgmask::policy {
namespace {

char Mark(ConstantToken::Kind kind) {
  switch (kind) {
    case ConstantToken::Kind::kInteger:
      return '\x01';
    case ConstantToken::Kind::kDecimal:
      return '\x02';
    case ConstantToken::Kind::kString:
      return '\x03';
  }
  return '\x03';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// Bytes that need no rule of their own: whitespace, and operator and punctuation characters
// whose lexing does not depend on what follows ('-' and '/' do: "--" and "/*" start comments).
bool IsPlain(char c) {
  switch (c) {
    case ' ': case '\t': case '\n': case '\r':
    case '(': case ')': case ',': case ';': case '[': case ']':
    case '+': case '*': case '<': case '>': case '=': case '~': case '!':
    case '@': case '#': case '%': case '^': case '&': case '|': case '`': case '?': case ':':
      return true;
    default:
      return false;
  }
}

// The length of the number at the start of `s` (digits, one '.', an exponent), or 0 when it runs
// into something that makes PostgreSQL 15 lex it in a way this lexer does not model.
size_t NumberLength(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i == 0 || (i == 1 && s[0] == '.')) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    const size_t digits = j;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j == digits) return 0;
    i = j;
  }
  if (i < s.size() && (IsIdentChar(s[i]) || s[i] == '.')) return 0;
  return i;
}

// Digits only and within int32: ICONST; anything else (a fraction, an exponent, a larger
// integer) is FCONST to PostgreSQL.
ConstantToken::Kind NumberKind(std::string_view number) {
  constexpr std::string_view kMaxInt32 = "2147483647";
  const size_t leading_zeros = std::min(number.find_first_not_of('0'), number.size());
  const std::string_view digits = number.substr(leading_zeros);
  for (char c : digits) {
    if (!IsDigit(c)) return ConstantToken::Kind::kDecimal;
  }
  if (digits.size() < kMaxInt32.size() || (digits.size() == kMaxInt32.size() && digits <= kMaxInt32)) {
    return ConstantToken::Kind::kInteger;
  }
  return ConstantToken::Kind::kDecimal;
}

// The length of the quoted string or identifier at the start of `s` ('' or "" inside stand for
// the quote), or 0 when it does not end.
size_t QuotedLength(std::string_view s) {
  const char quote = s[0];
  for (size_t i = 1; i < s.size(); ++i) {
    // Non-ASCII: in some client encodings a trail byte could read as ASCII.
    if (static_cast<unsigned char>(s[i]) >= 0x80) return 0;
    if (s[i] != quote) continue;
    if (i + 1 < s.size() && s[i + 1] == quote) {
      ++i;
      continue;
    }
    return i + 1;
  }
  return 0;
}

// Calls `on_constant` for each constant in order; false when the text is outside the subset.
bool Scan(std::string_view sql, absl::FunctionRef<void(const ConstantToken&)> on_constant) {
  // Inside a string too: with standard_conforming_strings off a backslash escapes the quote.
  if (sql.find('\\') != std::string_view::npos) return false;
  size_t last_string_end = std::string_view::npos;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (IsPlain(c)) {
      ++i;
    } else if (c == '-' || c == '/') {
      if (i + 1 < sql.size() && sql[i + 1] == (c == '-' ? '-' : '*')) return false;
      ++i;
    } else if (IsIdentStart(c)) {
      size_t end = i + 1;
      while (end < sql.size() && IsIdentChar(sql[end])) ++end;
      // A prefix glued to a quote makes another kind of string (E'', B'', X'', N'', U&'').
      if (end < sql.size() && (sql[end] == '\'' || sql[end] == '&')) return false;
      i = end;
    } else if (IsDigit(c) || c == '.') {
      const size_t n = NumberLength(sql.substr(i));
      if (n == 0) {
        if (c != '.' || (i + 1 < sql.size() && IsDigit(sql[i + 1]))) return false;
        ++i;  // a qualifier's dot
        continue;
      }
      on_constant({i, n, NumberKind(sql.substr(i, n))});
      i += n;
    } else if (c == '\'' || c == '"') {
      const size_t n = QuotedLength(sql.substr(i));
      if (n == 0) return false;
      if (c == '\'') {
        // Strings with only whitespace between them are one constant to PostgreSQL (or an error).
        if (last_string_end != std::string_view::npos &&
            sql.substr(last_string_end, i - last_string_end).find_first_not_of(" \t\n\r") == std::string_view::npos) {
          return false;
        }
        on_constant({i, n, ConstantToken::Kind::kString});
        last_string_end = i + n;
      }
      i += n;
    } else {
      return false;  // '$', '{', '}', non-ASCII, control bytes, ...
    }
  }
  return true;
}

}  // namespace

std::optional<std::vector<ConstantToken>> ConstantTokens(std::string_view sql) {
  std::vector<ConstantToken> out;
  if (!Scan(sql, [&](const ConstantToken& t) { out.push_back(t); })) return std::nullopt;
  return out;
}

bool AppendConstantBlindKey(std::string_view sql, std::string& key) {
  const size_t start = key.size();
  size_t at = 0;
  const bool accepted = Scan(sql, [&](const ConstantToken& t) {
    key.append(sql.substr(at, t.offset - at));
    key.push_back(Mark(t.kind));
    at = t.offset + t.length;
  });
  if (!accepted) {
    key.resize(start);
    return false;
  }
  key.append(sql.substr(at));
  return true;
}

}  // namespace pgmask::policy
