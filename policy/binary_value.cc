#include "policy/binary_value.h"

#include <charconv>
#include <type_traits>

#include "absl/strings/match.h"
#include "policy/binary_codecs.h"
#include "policy/pg_type.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

using binary::AppendBigEndian;
using binary::LoadBigEndian;

constexpr char kJsonbVersion = 1;
constexpr std::string_view kHexDigits = "0123456789abcdef";

template <typename Int>
bool IntToText(std::string_view binary, std::string& out) {
  if (binary.size() != sizeof(Int)) return false;
  const auto v = static_cast<Int>(LoadBigEndian(binary));
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.assign(buf, r.ptr);
  return true;
}

template <typename Int>
bool TextToInt(std::string_view text, std::string& out) {
  Int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  out.clear();
  AppendBigEndian(static_cast<std::make_unsigned_t<Int>>(v), sizeof(Int), out);
  return true;
}

bool UuidToText(std::string_view binary, std::string& out) {
  if (binary.size() != 16) return false;
  out.clear();
  for (size_t i = 0; i < binary.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const auto byte = static_cast<uint8_t>(binary[i]);
    out.push_back(kHexDigits[byte >> 4]);
    out.push_back(kHexDigits[byte & 0xF]);
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The canonical 8-4-4-4-12 form in either case, or 32 hex digits without hyphens.
bool TextToUuid(std::string_view text, std::string& out) {
  const bool hyphens = text.size() == 36;
  if (!hyphens && text.size() != 32) return false;
  out.clear();
  int high = -1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-') return false;
      continue;
    }
    const int nibble = HexValue(text[i]);
    if (nibble < 0) return false;
    if (high < 0) {
      high = nibble;
    } else {
      out.push_back(static_cast<char>(high << 4 | nibble));
      high = -1;
    }
  }
  return true;
}

bool BoolToText(std::string_view binary, std::string& out) {
  if (binary.size() != 1) return false;
  // boolrecv takes any non-zero byte as true.
  out.assign(binary[0] != 0 ? "t" : "f");
  return true;
}

bool TextToBool(std::string_view text, std::string& out) {
  constexpr std::string_view kTrue[] = {"t", "true", "y", "yes", "on", "1"};
  constexpr std::string_view kFalse[] = {"f", "false", "n", "no", "off", "0"};
  for (const std::string_view word : kTrue) {
    if (absl::EqualsIgnoreCase(ToAbsl(text), ToAbsl(word))) {
      out.assign(1, '\x01');
      return true;
    }
  }
  for (const std::string_view word : kFalse) {
    if (absl::EqualsIgnoreCase(ToAbsl(text), ToAbsl(word))) {
      out.assign(1, '\x00');
      return true;
    }
  }
  return false;
}

}  // namespace

bool SupportsBinary(uint32_t type_oid) { return PgTypeFromOid(type_oid) != PgType::kOther; }

bool BinaryToText(uint32_t type_oid, int32_t typmod, std::string_view binary, std::string& text_out) {
  switch (PgTypeFromOid(type_oid)) {
    case PgType::kText:
    case PgType::kVarchar:
    case PgType::kBpchar:
    case PgType::kName:
    case PgType::kJson: text_out.assign(binary); return true;
    case PgType::kJsonb:
      if (binary.empty() || binary.front() != kJsonbVersion) return false;
      text_out.assign(binary.substr(1));
      return true;
    case PgType::kInt2: return IntToText<int16_t>(binary, text_out);
    case PgType::kInt4: return IntToText<int32_t>(binary, text_out);
    case PgType::kInt8: return IntToText<int64_t>(binary, text_out);
    case PgType::kFloat4: return binary::Float4ToText(binary, text_out);
    case PgType::kFloat8: return binary::Float8ToText(binary, text_out);
    case PgType::kNumeric: return binary::NumericToText(binary, text_out);
    case PgType::kDate: return binary::DateToText(binary, text_out);
    case PgType::kTime: return binary::TimeToText(binary, text_out);
    case PgType::kTimestamp: return binary::TimestampToText(false, binary, text_out);
    case PgType::kTimestamptz: return binary::TimestampToText(true, binary, text_out);
    case PgType::kUuid: return UuidToText(binary, text_out);
    case PgType::kBool: return BoolToText(binary, text_out);
    case PgType::kInet: return binary::InetToText(binary, text_out);
    case PgType::kOther: return false;
  }
  return false;
}

bool TextToBinary(uint32_t type_oid, int32_t typmod, std::string_view text, std::string& binary_out) {
  switch (PgTypeFromOid(type_oid)) {
    case PgType::kText:
    case PgType::kVarchar:
    case PgType::kBpchar:
    case PgType::kName:
    case PgType::kJson: binary_out.assign(text); return true;
    case PgType::kJsonb:
      binary_out.assign(1, kJsonbVersion);
      binary_out.append(text);
      return true;
    case PgType::kInt2: return TextToInt<int16_t>(text, binary_out);
    case PgType::kInt4: return TextToInt<int32_t>(text, binary_out);
    case PgType::kInt8: return TextToInt<int64_t>(text, binary_out);
    case PgType::kFloat4: return binary::TextToFloat4(text, binary_out);
    case PgType::kFloat8: return binary::TextToFloat8(text, binary_out);
    case PgType::kNumeric: return binary::TextToNumeric(typmod, text, binary_out);
    case PgType::kDate: return binary::TextToDate(text, binary_out);
    case PgType::kTime: return binary::TextToTime(text, binary_out);
    case PgType::kTimestamp: return binary::TextToTimestamp(false, text, binary_out);
    case PgType::kTimestamptz: return binary::TextToTimestamp(true, text, binary_out);
    case PgType::kUuid: return TextToUuid(text, binary_out);
    case PgType::kBool: return TextToBool(text, binary_out);
    case PgType::kInet: return binary::TextToInet(text, binary_out);
    case PgType::kOther: return false;
  }
  return false;
}

}  // namespace pgmask::policy
