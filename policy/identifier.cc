#include "policy/identifier.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

bool IsBareStart(unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80; }

bool IsBarePart(unsigned char c) {
  return IsBareStart(c) || (c >= '0' && c <= '9') || c == '$';
}

absl::Status CheckLength(std::string_view name) {
  if (name.size() > kMaxIdentifierBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("name is longer than ", kMaxIdentifierBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseBare(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty name");
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("name is not valid UTF-8");
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      return absl::InvalidArgumentError(absl::StrCat(
          "name '", ToAbsl(text),
          "' has upper-case letters; PostgreSQL stores unquoted names in lower case: write it "
          "in lower case, or in double quotes to match a quoted name"));
    }
  }
  if (!IsBareStart(static_cast<unsigned char>(text[0]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name '", ToAbsl(text), "' must start with a letter or '_' (or be written in double quotes)"));
  }
  for (const char ch : text) {
    if (!IsBarePart(static_cast<unsigned char>(ch))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name '", ToAbsl(text),
          "' may only hold letters, digits, '_' and '$' (or be written in double quotes)"));
    }
  }
  if (absl::Status s = CheckLength(text); !s.ok()) return s;
  return std::string(text);
}

// Splits `text` at dots outside double quotes; each piece keeps its quotes.
absl::StatusOr<std::vector<std::string_view>> SplitQualified(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      quoted = !quoted;
    } else if (text[i] == '.' && !quoted) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated double quote in name");
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

absl::StatusOr<std::string> ParseIdentifier(std::string_view text) {
  if (text.empty() || text[0] != '"') return ParseBare(text);
  if (text.size() < 2 || text.back() != '"') {
    return absl::InvalidArgumentError("unterminated double quote in name");
  }
  const std::string_view inner = text.substr(1, text.size() - 2);
  std::string name;
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '"') {
      if (i + 1 >= inner.size() || inner[i + 1] != '"') {
        return absl::InvalidArgumentError("a double quote inside a quoted name must be doubled");
      }
      ++i;
    }
    if (inner[i] == '\0') return absl::InvalidArgumentError("name contains a NUL byte");
    name.push_back(inner[i]);
  }
  if (name.empty()) return absl::InvalidArgumentError("empty quoted name");
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError("name is not valid UTF-8");
  if (absl::Status s = CheckLength(name); !s.ok()) return s;
  return name;
}

absl::StatusOr<QualifiedName> ParseQualifiedName(std::string_view text) {
  absl::StatusOr<std::vector<std::string_view>> parts = SplitQualified(text);
  if (!parts.ok()) return parts.status();
  if (parts->size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("name '", ToAbsl(text), "' must be 'schema.name' or 'name'"));
  }
  QualifiedName result;
  absl::StatusOr<std::string> last = ParseIdentifier(parts->back());
  if (!last.ok()) return last.status();
  result.name = *std::move(last);
  if (parts->size() == 1) {
    result.schema = "public";
    return result;
  }
  absl::StatusOr<std::string> schema = ParseIdentifier(parts->front());
  if (!schema.ok()) return schema.status();
  result.schema = *std::move(schema);
  return result;
}

absl::StatusOr<FunctionName> ParseFunctionName(std::string_view text) {
  absl::StatusOr<std::vector<std::string_view>> parts = SplitQualified(text);
  if (!parts.ok()) return parts.status();
  if (parts->size() == 1) {
    absl::StatusOr<std::string> name = ParseIdentifier(text);
    if (!name.ok()) return name.status();
    return FunctionName{"", *std::move(name)};
  }
  absl::StatusOr<QualifiedName> qualified = ParseQualifiedName(text);
  if (!qualified.ok()) return qualified.status();
  return FunctionName{std::move(qualified->schema), std::move(qualified->name)};
}

std::string QuoteIdentifierIfNeeded(std::string_view name) {
  bool bare = !name.empty() && IsBareStart(static_cast<unsigned char>(name[0]));
  for (const char c : name) bare = bare && IsBarePart(static_cast<unsigned char>(c));
  if (bare) return std::string(name);
  std::string quoted = "\"";
  for (const char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string EscapeStringLiteral(std::string_view text) {
  std::string out = "E'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace pgmask::policy
