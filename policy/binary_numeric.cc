// numeric's binary form (numeric_send/numeric_recv): uint16 ndigits, int16 weight (power of
// 10000 of the first digit), uint16 sign, uint16 dscale (digits shown after the point), then
// ndigits base-10000 digits as uint16.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "policy/binary_codecs.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy::binary {
namespace {

constexpr uint16_t kPositive = 0x0000;
constexpr uint16_t kNegative = 0x4000;
constexpr uint16_t kNaN = 0xC000;
constexpr uint16_t kPlusInfinity = 0xD000;
constexpr uint16_t kMinusInfinity = 0xF000;
constexpr uint16_t kDscaleMask = 0x3FFF;
constexpr int kBase = 10000;
constexpr int kDecDigits = 4;
constexpr int kMaxExponent = 1000;  // NUMERIC_MAX_PRECISION: numeric_in refuses larger exponents
constexpr int32_t kVarHeader = 4;
constexpr size_t kHeaderBytes = 8;
// The server stores ±Infinity in the short header format and numeric_send reads its dscale
// bits out of that header, so it sends 0x20 there; sent byte for byte the same.
constexpr uint16_t kInfinityDscale = 0x20;

int FloorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

void AppendHeader(uint16_t ndigits, int16_t weight, uint16_t sign, uint16_t dscale, std::string& out) {
  AppendBigEndian(ndigits, 2, out);
  AppendBigEndian(static_cast<uint16_t>(weight), 2, out);
  AppendBigEndian(sign, 2, out);
  AppendBigEndian(dscale, 2, out);
}

void AppendGroup(int group, bool pad, std::string& out) {
  char buf[kDecDigits];
  for (int i = kDecDigits - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + group % 10);
    group /= 10;
  }
  size_t start = 0;
  if (!pad) {
    while (start < kDecDigits - 1 && buf[start] == '0') ++start;
  }
  out.append(buf + start, kDecDigits - start);
}

bool IsSpecial(std::string_view text, std::string_view word) {
  return absl::EqualsIgnoreCase(ToAbsl(text), ToAbsl(word));
}

// Reads "NaN", "[+-]Infinity" or "[+-]inf" as numeric_in does (any case).
bool AppendSpecial(std::string_view text, std::string& out) {
  if (IsSpecial(text, "NaN")) {
    AppendHeader(0, 0, kNaN, 0, out);
    return true;
  }
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (!IsSpecial(text, "Infinity") && !IsSpecial(text, "inf")) return false;
  AppendHeader(0, 0, negative ? kMinusInfinity : kPlusInfinity, kInfinityDscale, out);
  return true;
}

struct Decimal {
  bool negative = false;
  std::string_view integer;   // digits before the point
  std::string_view fraction;  // digits after it
  int exponent = 0;
};

bool ParseDigits(std::string_view& text, std::string_view& digits) {
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
  digits = text.substr(0, n);
  text.remove_prefix(n);
  return n > 0;
}

// [+-]digits[.digits][e[+-]digits], with digits on at least one side of the point.
bool ParseDecimal(std::string_view text, Decimal& d) {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    d.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  bool any = ParseDigits(text, d.integer);
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    any = ParseDigits(text, d.fraction) || any;
  }
  if (!any) return false;
  if (text.empty()) return true;
  if (text.front() != 'e' && text.front() != 'E') return false;
  text.remove_prefix(1);
  bool negative_exponent = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative_exponent = text.front() == '-';
    text.remove_prefix(1);
  }
  std::string_view exponent;
  if (!ParseDigits(text, exponent) || !text.empty() || exponent.size() > 4) return false;
  for (const char c : exponent) d.exponent = d.exponent * 10 + (c - '0');
  if (d.exponent > kMaxExponent) return false;
  if (negative_exponent) d.exponent = -d.exponent;
  return true;
}

// Rounds the decimal digits in out[kHeaderBytes..] half away from zero to `keep` digits, as
// round_var does for a typmod's scale. `int_digits` grows when the carry adds a digit.
void RoundDigits(int keep, int& int_digits, std::string& out) {
  const size_t len = out.size() - kHeaderBytes;
  if (keep >= static_cast<int>(len)) return;
  const bool up = keep >= 0 && out[kHeaderBytes + static_cast<size_t>(keep)] >= '5';
  out.resize(kHeaderBytes + static_cast<size_t>(keep < 0 ? 0 : keep));
  if (!up) return;
  for (size_t i = out.size(); i > kHeaderBytes; --i) {
    if (out[i - 1] != '9') {
      ++out[i - 1];
      return;
    }
    out[i - 1] = '0';
  }
  out.insert(out.begin() + kHeaderBytes, '1');
  ++int_digits;
}

}  // namespace

bool NumericToText(std::string_view binary, std::string& out) {
  if (binary.size() < kHeaderBytes) return false;
  const auto ndigits = static_cast<size_t>(LoadBigEndian(binary.substr(0, 2)));
  const auto weight = static_cast<int16_t>(LoadBigEndian(binary.substr(2, 2)));
  const auto sign = static_cast<uint16_t>(LoadBigEndian(binary.substr(4, 2)));
  const auto dscale = static_cast<uint16_t>(LoadBigEndian(binary.substr(6, 2)));
  if (binary.size() != kHeaderBytes + 2 * ndigits) return false;
  if ((dscale & kDscaleMask) != dscale) return false;
  auto digit = [&](int i) -> int {
    if (i < 0 || static_cast<size_t>(i) >= ndigits) return 0;
    return static_cast<int>(LoadBigEndian(binary.substr(kHeaderBytes + 2 * static_cast<size_t>(i), 2)));
  };
  for (size_t i = 0; i < ndigits; ++i) {
    if (digit(static_cast<int>(i)) >= kBase) return false;
  }
  out.clear();
  switch (sign) {
    case kNaN: out.append("NaN"); return true;
    case kPlusInfinity: out.append("Infinity"); return true;
    case kMinusInfinity: out.append("-Infinity"); return true;
    case kPositive:
    case kNegative: break;
    default: return false;
  }
  // Printed as numeric_out prints the value numeric_recv builds: leading zero digits dropped,
  // digits past dscale truncated, and a value that is zero after that unsigned.
  out.push_back('-');
  bool printed = false;
  for (int d = 0; d <= weight; ++d) {
    const int group = digit(d);
    if (!printed && group == 0) continue;
    AppendGroup(group, printed, out);
    printed = true;
  }
  if (!printed) out.push_back('0');
  if (dscale > 0) {
    out.push_back('.');
    const size_t point = out.size();
    for (int d = weight + 1; out.size() - point < dscale; ++d) AppendGroup(digit(d), true, out);
    out.resize(point + dscale);
  }
  const bool nonzero = out.find_first_of("123456789") != std::string::npos;
  if (sign != kNegative || !nonzero) out.erase(0, 1);
  return true;
}

bool TextToNumeric(int32_t typmod, std::string_view text, std::string& out) {
  out.clear();
  if (AppendSpecial(text, out)) return true;
  Decimal d;
  if (!ParseDecimal(text, d)) return false;
  // The decimal digits are laid out after room for the header, then packed four at a time into
  // base-10000 digits in place: every write lands at or before the bytes it consumed.
  out.append(kHeaderBytes, '\0');
  out.append(d.integer);
  out.append(d.fraction);
  int int_digits = static_cast<int>(d.integer.size()) + d.exponent;
  int dscale = static_cast<int>(d.fraction.size()) - d.exponent;
  if (dscale < 0) dscale = 0;
  if (typmod >= kVarHeader) {
    const int precision = ((typmod - kVarHeader) >> 16) & 0xFFFF;
    const int scale = (((typmod - kVarHeader) & 0x7FF) ^ 1024) - 1024;
    RoundDigits(int_digits + scale, int_digits, out);
    dscale = scale < 0 ? 0 : scale;
    size_t first = kHeaderBytes;
    while (first < out.size() && out[first] == '0') ++first;
    const int significant_int = int_digits - static_cast<int>(first - kHeaderBytes);
    if (first < out.size() && significant_int > precision - scale) return false;
  }
  if (dscale > kDscaleMask) return false;
  size_t leading = 0;
  while (kHeaderBytes + leading < out.size() && out[kHeaderBytes + leading] == '0') ++leading;
  out.erase(kHeaderBytes, leading);
  int_digits -= static_cast<int>(leading);
  while (out.size() > kHeaderBytes && out.back() == '0') out.pop_back();
  if (out.size() == kHeaderBytes) {
    out.clear();
    AppendHeader(0, 0, kPositive, static_cast<uint16_t>(dscale), out);
    return true;
  }
  const int weight = FloorDiv(int_digits - 1, kDecDigits);
  if (weight > INT16_MAX || weight < INT16_MIN) return false;
  out.insert(kHeaderBytes, static_cast<size_t>(kDecDigits * (weight + 1) - int_digits), '0');
  const size_t digit_chars = out.size() - kHeaderBytes;
  out.append((kDecDigits - digit_chars % kDecDigits) % kDecDigits, '0');
  const size_t ndigits = (out.size() - kHeaderBytes) / kDecDigits;
  if (ndigits > UINT16_MAX) return false;
  for (size_t i = 0; i < ndigits; ++i) {
    int group = 0;
    for (size_t j = 0; j < kDecDigits; ++j) group = group * 10 + (out[kHeaderBytes + kDecDigits * i + j] - '0');
    out[kHeaderBytes + 2 * i] = static_cast<char>(group >> 8);
    out[kHeaderBytes + 2 * i + 1] = static_cast<char>(group & 0xFF);
  }
  out.resize(kHeaderBytes + 2 * ndigits);
  const uint16_t sign = d.negative ? kNegative : kPositive;
  // Header last: its slot was reserved up front so the digits could be packed in place.
  const uint8_t fields[8] = {
      static_cast<uint8_t>(ndigits >> 8), static_cast<uint8_t>(ndigits),
      static_cast<uint8_t>(static_cast<uint16_t>(weight) >> 8), static_cast<uint8_t>(weight),
      static_cast<uint8_t>(sign >> 8), static_cast<uint8_t>(sign),
      static_cast<uint8_t>(dscale >> 8), static_cast<uint8_t>(dscale)};
  out.replace(0, kHeaderBytes, reinterpret_cast<const char*>(fields), kHeaderBytes);
  return true;
}

}  // namespace pgmask::policy::binary
