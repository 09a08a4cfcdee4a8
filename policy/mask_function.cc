#include "policy/mask_function.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "policy/date_time.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr int kMaxExactIntegerDigits = 18;
constexpr int kSecondsPerDay = 86400;
const int64_t kHashFirstDay = DaysFromCivil(CivilDate{1900, 1, 1});
const int64_t kHashDayCount = DaysFromCivil(CivilDate{2099, 12, 31}) - kHashFirstDay + 1;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

uint64_t DigestWord(const KeyedHash::Digest& digest, size_t offset) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | digest[offset + i];
  return value;
}

struct IntRange {
  int64_t min;
  int64_t max;
};

IntRange RangeOf(PgType type) {
  switch (type) {
    case PgType::kInt2: return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case PgType::kInt4: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

void AppendInt(__int128 value, std::string& out) {
  char buf[48];
  char* end = buf + sizeof(buf);
  char* p = end;
  const bool negative = value < 0;
  unsigned __int128 magnitude = negative ? -static_cast<unsigned __int128>(value)
                                         : static_cast<unsigned __int128>(value);
  do {
    *--p = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  } while (magnitude != 0);
  if (negative) *--p = '-';
  out.append(p, static_cast<size_t>(end - p));
}

// floor(x / n) * n for x = sign * (integer + fraction), fraction_nonzero telling whether the
// fraction is non-zero. Integers of up to 18 digits only.
std::optional<__int128> Bucket(bool negative, std::string_view integer, bool fraction_nonzero,
                               int64_t n) {
  if (integer.empty() || integer.size() > kMaxExactIntegerDigits) return std::nullopt;
  int64_t magnitude = 0;
  for (const char c : integer) magnitude = magnitude * 10 + (c - '0');
  int64_t q = magnitude / n;
  if (negative && (magnitude % n != 0 || fraction_nonzero)) ++q;
  const __int128 result = static_cast<__int128>(q) * n;
  return negative ? -result : result;
}

// -?D+(.D+)? as numeric prints; `fraction_nonzero` says whether any fraction digit is not 0.
bool ParsePlainDecimal(std::string_view s, bool& negative, std::string_view& integer,
                       bool& fraction_nonzero) {
  negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  const size_t dot = s.find('.');
  integer = s.substr(0, dot);
  if (integer.empty()) return false;
  for (const char c : integer) {
    if (!IsDigit(c)) return false;
  }
  fraction_nonzero = false;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = s.substr(dot + 1);
    if (fraction.empty()) return false;
    for (const char c : fraction) {
      if (!IsDigit(c)) return false;
      fraction_nonzero = fraction_nonzero || c != '0';
    }
  }
  return true;
}

size_t IntegerDigits(__int128 value) {
  unsigned __int128 magnitude = value < 0 ? -static_cast<unsigned __int128>(value)
                                          : static_cast<unsigned __int128>(value);
  size_t digits = 1;
  while (magnitude >= 10) {
    magnitude /= 10;
    ++digits;
  }
  return digits;
}

CivilDate Truncate(CivilDate date, DatePart part) {
  switch (part) {
    case DatePart::kYear: return CivilDate{date.year, 1, 1};
    case DatePart::kMonth: return CivilDate{date.year, date.month, 1};
    case DatePart::kDecade: return CivilDate{std::max(1, date.year - date.year % 10), 1, 1};
  }
  return date;
}

bool GeneralizeDateText(DatePart part, PgType type, std::string_view in, std::string& out) {
  CivilDate date;
  IsoTimestamp ts;
  if ((type == PgType::kDate || IsTextLike(type)) && ParseIsoDate(in, date)) {
    AppendDate(Truncate(date, part), out);
    return true;
  }
  const bool zoned = type == PgType::kTimestamptz;
  const bool plain = type == PgType::kTimestamp;
  const bool text = IsTextLike(type);
  // A timestamp with an offset is truncated as an instant, in UTC (see ParseIsoInstant).
  if (((plain || text) && ParseIsoTimestamp(in, false, ts)) ||
      ((zoned || text) && ParseIsoInstant(in, ts))) {
    AppendDate(Truncate(ts.date, part), out);
    out.append(" 00:00:00");
    out.append(ts.zone);
    return true;
  }
  return false;
}

bool GeneralizeNumber(int64_t n, ColumnType column, PgType type, std::string_view in,
                      std::string& out) {
  if (type == PgType::kFloat4 || type == PgType::kFloat8) {
    if (in == "NaN" || in == "Infinity" || in == "-Infinity") {
      out.append(in);
      return true;
    }
    double x = 0;
    auto [ptr, ec] = std::from_chars(in.data(), in.data() + in.size(), x);
    if (ec != std::errc() || ptr != in.data() + in.size()) return false;
    const double result = std::floor(x / static_cast<double>(n)) * static_cast<double>(n);
    char buf[64];
    std::to_chars_result written;
    if (type == PgType::kFloat4) {
      const auto f = static_cast<float>(result);
      if (!std::isfinite(f)) return false;
      written = std::to_chars(buf, buf + sizeof(buf), f);
    } else {
      if (!std::isfinite(result)) return false;
      written = std::to_chars(buf, buf + sizeof(buf), result);
    }
    if (written.ec != std::errc()) return false;
    out.append(buf, written.ptr);
    return true;
  }
  if (type == PgType::kNumeric && (in == "NaN" || in == "Infinity" || in == "-Infinity")) {
    out.append(in);
    return true;
  }
  bool negative = false;
  bool fraction_nonzero = false;
  std::string_view integer;
  if (!ParsePlainDecimal(in, negative, integer, fraction_nonzero)) return false;
  if (IsInteger(type) && fraction_nonzero) return false;
  const std::optional<__int128> result = Bucket(negative, integer, fraction_nonzero, n);
  if (!result) return false;
  if (IsInteger(type)) {
    const IntRange range = RangeOf(type);
    if (*result < range.min || *result > range.max) return false;
  }
  if (type == PgType::kNumeric) {
    const std::optional<int> max_digits = NumericIntegerDigits(column.typmod);
    if (max_digits && *result != 0 && static_cast<int>(IntegerDigits(*result)) > *max_digits) {
      return false;
    }
  }
  AppendInt(*result, out);
  return true;
}

void AppendUuid(const uint8_t* bytes, std::string& out) {
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xF]);
  }
}

// What may stand after the last dot of a domain: 2 to 24 ASCII letters, or an IDNA "xn--" label.
// Anything else after the dot (a space, a line, a name) is not a domain but data, and is dropped.
bool IsTopLevelDomain(std::string_view label) {
  const auto letters = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); });
  };
  if (label.size() >= 2 && label.size() <= 24 && letters(label)) return true;
  if (label.size() <= 4 || label.size() > 63 || !absl::StartsWithIgnoreCase(ToAbsl(label), "xn--")) return false;
  return std::all_of(label.begin() + 4, label.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

}  // namespace

MaskOutput AppendRedaction(PgType type, std::string_view text, std::string& out) {
  switch (type) {
    case PgType::kText:
    case PgType::kVarchar:
    case PgType::kBpchar:
    case PgType::kName: out.append(text); break;
    case PgType::kJson:
    case PgType::kJsonb: AppendJsonString(text, out); break;
    case PgType::kInt2:
    case PgType::kInt4:
    case PgType::kInt8:
    case PgType::kNumeric:
    case PgType::kFloat4:
    case PgType::kFloat8: out.append("0"); break;
    case PgType::kDate: out.append("1900-01-01"); break;
    case PgType::kTimestamp: out.append("1900-01-01 00:00:00"); break;
    case PgType::kTimestamptz: out.append("1900-01-01 00:00:00+00"); break;
    case PgType::kTime: out.append("00:00:00"); break;
    case PgType::kUuid: out.append("00000000-0000-0000-0000-000000000000"); break;
    case PgType::kBool: out.append("f"); break;
    case PgType::kInet: out.append("0.0.0.0"); break;
    case PgType::kOther: return MaskOutput::kNull;
  }
  return MaskOutput::kValue;
}

MaskOutput AppendPartial(const MaskSpec& spec, PgType type, std::string_view in,
                         std::string& out) {
  if (!IsTextLike(type)) return AppendRedaction(type, kDefaultRedaction, out);
  const size_t count = CodePointCount(in);
  const auto prefix = static_cast<size_t>(spec.prefix);
  const auto suffix = static_cast<size_t>(spec.suffix);
  if (count <= prefix + suffix) {
    out.append(spec.text);
    return MaskOutput::kValue;
  }
  out.append(in.substr(0, CodePointOffset(in, prefix)));
  out.append(spec.text);
  out.append(in.substr(CodePointOffset(in, count - suffix)));
  return MaskOutput::kValue;
}

MaskOutput AppendEmail(PgType type, std::string_view in, std::string& out) {
  const size_t at = in.rfind('@');
  if (!IsTextLike(type) || at == std::string_view::npos || at == 0) {
    return AppendRedaction(type, kDefaultRedaction, out);
  }
  const std::string_view local = in.substr(0, at);
  const std::string_view domain = in.substr(at + 1);
  out.append(local.substr(0, CodePointOffset(local, 1)));
  out.append("***@***");
  const size_t dot = domain.rfind('.');
  if (dot != std::string_view::npos && IsTopLevelDomain(domain.substr(dot + 1))) out.append(domain.substr(dot));
  return MaskOutput::kValue;
}

MaskOutput AppendGeneralized(const MaskSpec& spec, ColumnType column, PgType type,
                             std::string_view in, std::string& out) {
  const bool done = spec.date_part.has_value()
                        ? GeneralizeDateText(*spec.date_part, type, in, out)
                        : GeneralizeNumber(spec.bucket, column, type, in, out);
  if (done) return MaskOutput::kValue;
  out.clear();
  return AppendRedaction(type, kDefaultRedaction, out);
}

MaskOutput AppendHashValue(const KeyedHash::Digest& digest, int hex_chars, ColumnType column,
                           PgType type, std::string& out) {
  const uint64_t word = DigestWord(digest, 0);
  switch (type) {
    case PgType::kText:
    case PgType::kVarchar:
    case PgType::kBpchar:
    case PgType::kName: AppendHex(digest, static_cast<size_t>(hex_chars), out); break;
    case PgType::kJson:
    case PgType::kJsonb:
      out.push_back('"');
      AppendHex(digest, static_cast<size_t>(hex_chars), out);
      out.push_back('"');
      break;
    case PgType::kInt2:
    case PgType::kInt4:
    case PgType::kInt8:
      AppendInt(static_cast<__int128>(word % (static_cast<uint64_t>(RangeOf(type).max) + 1)), out);
      break;
    case PgType::kNumeric: {
      int digits = std::min(kMaxExactIntegerDigits,
                            NumericIntegerDigits(column.typmod).value_or(kMaxExactIntegerDigits));
      uint64_t modulus = 1;
      for (int i = 0; i < digits; ++i) modulus *= 10;
      AppendInt(digits <= 0 ? 0 : static_cast<__int128>(word % modulus), out);
      break;
    }
    case PgType::kFloat4: AppendInt(static_cast<__int128>(word % (uint64_t{1} << 24)), out); break;
    case PgType::kFloat8: AppendInt(static_cast<__int128>(word % (uint64_t{1} << 53)), out); break;
    case PgType::kDate:
    case PgType::kTimestamp:
    case PgType::kTimestamptz: {
      const auto day = static_cast<int64_t>(word % static_cast<uint64_t>(kHashDayCount));
      AppendDate(CivilFromDays(kHashFirstDay + day), out);
      if (type == PgType::kDate) break;
      const auto second = static_cast<int>(DigestWord(digest, 8) % kSecondsPerDay);
      out.push_back(' ');
      AppendTime(CivilTime{second / 3600, second / 60 % 60, second % 60, {}}, out);
      if (type == PgType::kTimestamptz) out.append("+00");
      break;
    }
    case PgType::kTime: {
      const auto second = static_cast<int>(word % kSecondsPerDay);
      AppendTime(CivilTime{second / 3600, second / 60 % 60, second % 60, {}}, out);
      break;
    }
    case PgType::kUuid: {
      uint8_t bytes[16];
      std::copy(digest.begin(), digest.begin() + 16, bytes);
      bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | 0x80);  // version 8: custom
      bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
      AppendUuid(bytes, out);
      break;
    }
    // A keyed function of one bit is the bit, its negation or a constant: only a constant hides it.
    case PgType::kBool: out.append("f"); break;
    case PgType::kInet:
      out.append("fd");
      for (size_t i = 0; i < 15; ++i) {
        if (i % 2 == 1) out.push_back(':');
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xF]);
      }
      break;
    case PgType::kOther: return MaskOutput::kNull;
  }
  return MaskOutput::kValue;
}

}  // namespace pgmask::policy
