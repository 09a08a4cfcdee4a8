#include "policy/pg_type.h"

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

constexpr int32_t kVarHeader = 4;  // VARHDRSZ, added to every length typmod
constexpr size_t kNameBytes = 63;  // NAMEDATALEN - 1

struct TypeEntry {
  PgType type;
  uint32_t oid;
  std::string_view name;
};

constexpr TypeEntry kTypes[] = {
    {PgType::kText, type_oid::kText, "text"},
    {PgType::kVarchar, type_oid::kVarchar, "varchar"},
    {PgType::kBpchar, type_oid::kBpchar, "bpchar"},
    {PgType::kName, type_oid::kName, "name"},
    {PgType::kInt2, type_oid::kInt2, "int2"},
    {PgType::kInt4, type_oid::kInt4, "int4"},
    {PgType::kInt8, type_oid::kInt8, "int8"},
    {PgType::kNumeric, type_oid::kNumeric, "numeric"},
    {PgType::kFloat4, type_oid::kFloat4, "float4"},
    {PgType::kFloat8, type_oid::kFloat8, "float8"},
    {PgType::kDate, type_oid::kDate, "date"},
    {PgType::kTimestamp, type_oid::kTimestamp, "timestamp"},
    {PgType::kTimestamptz, type_oid::kTimestamptz, "timestamptz"},
    {PgType::kTime, type_oid::kTime, "time"},
    {PgType::kUuid, type_oid::kUuid, "uuid"},
    {PgType::kBool, type_oid::kBool, "bool"},
    {PgType::kJson, type_oid::kJson, "json"},
    {PgType::kJsonb, type_oid::kJsonb, "jsonb"},
    {PgType::kInet, type_oid::kInet, "inet"},
};

struct Alias {
  std::string_view alias;
  std::string_view name;
};

constexpr Alias kAliases[] = {
    {"character varying", "varchar"},
    {"character", "bpchar"},
    {"char", "bpchar"},
    {"smallint", "int2"},
    {"integer", "int4"},
    {"int", "int4"},
    {"bigint", "int8"},
    {"decimal", "numeric"},
    {"real", "float4"},
    {"double precision", "float8"},
    {"timestamp without time zone", "timestamp"},
    {"timestamp with time zone", "timestamptz"},
    {"time without time zone", "time"},
    {"boolean", "bool"},
};

}  // namespace

PgType PgTypeFromOid(uint32_t oid) {
  for (const TypeEntry& e : kTypes) {
    if (e.oid == oid) return e.type;
  }
  return PgType::kOther;
}

std::string_view PgTypeName(PgType type) {
  for (const TypeEntry& e : kTypes) {
    if (e.type == type) return e.name;
  }
  return "unknown";
}

std::optional<ColumnType> ColumnTypeFromName(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(name)));
  std::string_view wanted = lower;
  for (const Alias& a : kAliases) {
    if (a.alias == wanted) wanted = a.name;
  }
  for (const TypeEntry& e : kTypes) {
    if (e.name == wanted) return ColumnType{e.oid, -1};
  }
  uint32_t oid = 0;
  auto [ptr, ec] = std::from_chars(wanted.data(), wanted.data() + wanted.size(), oid);
  if (ec == std::errc() && ptr == wanted.data() + wanted.size() &&
      PgTypeFromOid(oid) != PgType::kOther) {
    return ColumnType{oid, -1};
  }
  return std::nullopt;
}

bool IsTextLike(PgType type) {
  return type == PgType::kText || type == PgType::kVarchar || type == PgType::kBpchar ||
         type == PgType::kName;
}

bool IsInteger(PgType type) {
  return type == PgType::kInt2 || type == PgType::kInt4 || type == PgType::kInt8;
}

std::optional<size_t> MaxCodePoints(PgType type, int32_t typmod) {
  if ((type != PgType::kVarchar && type != PgType::kBpchar) || typmod < kVarHeader + 1) {
    return std::nullopt;
  }
  return static_cast<size_t>(typmod - kVarHeader);
}

std::optional<int> NumericIntegerDigits(int32_t typmod) {
  if (typmod < kVarHeader) return std::nullopt;
  const int32_t packed = typmod - kVarHeader;
  const int precision = (packed >> 16) & 0xFFFF;
  // The scale is an 11-bit signed field since PostgreSQL 15 (negative scales).
  int scale = packed & 0x7FF;
  if (scale & 0x400) scale -= 0x800;
  return precision - scale;
}

void FitTextValue(PgType type, int32_t typmod, std::string& out) {
  if (type == PgType::kName) {
    out.resize(TruncateToBytes(out, kNameBytes).size());
    return;
  }
  const std::optional<size_t> max = MaxCodePoints(type, typmod);
  if (!max) return;
  const size_t count = CodePointCount(out);
  if (count > *max) {
    out.resize(CodePointOffset(out, *max));
  } else if (type == PgType::kBpchar && count < *max) {
    out.append(*max - count, ' ');
  }
}

void AppendJsonString(std::string_view text, std::string& out) {
  out.push_back('"');
  // Runs of characters that need no escape are appended whole (audit records are mostly such).
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: absl::StrAppendFormat(&out, "\\u%04x", c);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

}  // namespace pgmask::policy
