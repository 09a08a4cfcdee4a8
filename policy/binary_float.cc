// float4 and float8 in binary: IEEE 754 big-endian. Their text is what float4out/float8out print
// with extra_float_digits 1 (the default since PostgreSQL 12): Ryu's shortest digits that read
// back as the same float, with one difference from std::to_chars: the server's Ryu is built
// without STRICTLY_SHORTEST, so it never picks a decimal lying exactly halfway to a neighbouring
// float, which to_chars does for floats with an even mantissa. Those values get the next longer
// digits.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "policy/binary_codecs.h"

namespace pgmask::policy::binary {
namespace {

template <typename Float>
struct Ieee;
template <>
struct Ieee<float> {
  using Bits = uint32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr int kBias = 127;
};
template <>
struct Ieee<double> {
  using Bits = uint64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr int kBias = 1023;
};

// A decimal digits * 10^exponent, as to_chars' scientific form spells it.
struct Decimal {
  char digits[24];
  int length = 0;
  int exponent = 0;  // of the first digit
};

Decimal ToDecimal(const char* begin, const char* end) {
  Decimal d;
  const char* p = begin;
  if (*p == '-') ++p;
  for (; *p != 'e'; ++p) {
    if (*p != '.') d.digits[d.length++] = *p;
  }
  ++p;
  if (*p == '+') ++p;
  std::from_chars(p, end, d.exponent);
  while (d.length > 1 && d.digits[d.length - 1] == '0') --d.length;
  return d;
}

// Removes the factors `base` from `v` and counts them.
int StripFactor(uint64_t& v, uint64_t base) {
  int count = 0;
  while (v != 0 && v % base == 0) {
    v /= base;
    ++count;
  }
  return count;
}

// Whether the decimal equals coefficient * 2^exp2, compared as (part coprime to 10, power of 2,
// power of 5) so no big numbers are needed.
bool DecimalEquals(const Decimal& d, uint64_t coefficient, int exp2) {
  uint64_t digits = 0;
  for (int i = 0; i < d.length; ++i) digits = digits * 10 + static_cast<uint64_t>(d.digits[i] - '0');
  if (digits == 0 || coefficient == 0) return false;
  const int exp10 = d.exponent - (d.length - 1);
  const int twos = StripFactor(digits, 2) + exp10;
  const int fives = StripFactor(digits, 5) + exp10;
  const int other_twos = StripFactor(coefficient, 2) + exp2;
  const int other_fives = StripFactor(coefficient, 5);
  return digits == coefficient && twos == other_twos && fives == other_fives;
}

// Whether `d` is exactly one of the halfway points between finite `x` and its neighbours,
// computed as Ryu does: the mantissa scaled by 4, the upper bound 2 above it, the lower bound 2
// below (1 when the mantissa is a power of two, where the gap under it is half as wide).
template <typename Float>
bool IsHalfwayPoint(Float x, const Decimal& d) {
  using T = Ieee<Float>;
  typename T::Bits bits;
  x = std::fabs(x);
  std::memcpy(&bits, &x, sizeof(bits));
  const uint64_t mantissa = bits & ((uint64_t{1} << T::kMantissaBits) - 1);
  const int exponent = static_cast<int>(bits >> T::kMantissaBits);
  const uint64_t m2 = exponent == 0 ? mantissa : (uint64_t{1} << T::kMantissaBits) | mantissa;
  const int e2 = (exponent == 0 ? 1 : exponent) - T::kBias - T::kMantissaBits - 2;
  const uint64_t lower_gap = (mantissa != 0 || exponent <= 1) ? 2 : 1;
  return DecimalEquals(d, 4 * m2 + 2, e2) || DecimalEquals(d, 4 * m2 - lower_gap, e2);
}

template <typename Float>
Decimal Shortest(Float x) {
  char buf[64];
  const auto shortest = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  const Decimal d = ToDecimal(buf, shortest.ptr);
  if (!IsHalfwayPoint(x, d)) return d;
  // No decimal of this length is nearer than the halfway point, so try longer ones: the
  // correctly rounded digits of each length until they read back as x from inside the bounds.
  for (int precision = d.length + 1; precision < std::numeric_limits<Float>::max_digits10; ++precision) {
    const auto rounded = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific, precision - 1);
    Float back = 0;
    std::from_chars(buf, rounded.ptr, back);
    const Decimal candidate = ToDecimal(buf, rounded.ptr);
    if (back == x && !IsHalfwayPoint(x, candidate)) return candidate;
  }
  const auto full = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific,
                                  std::numeric_limits<Float>::max_digits10 - 1);
  return ToDecimal(buf, full.ptr);
}

// Fixed notation for exponents from -4 up to the type's decimal precision (DBL_DIG 15, FLT_DIG
// 6), as printf's %g switches; otherwise "d.ddde±XX" with at least two exponent digits.
template <typename Float>
void AppendFloat(Float x, std::string& out) {
  if (std::isnan(x)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(x)) {
    out.append(x > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (std::signbit(x)) out.push_back('-');
  if (x == 0) {
    out.push_back('0');
    return;
  }
  const Decimal d = Shortest(x);
  const std::string_view digits(d.digits, static_cast<size_t>(d.length));
  if (d.exponent >= -4 && d.exponent < std::numeric_limits<Float>::digits10) {
    if (d.exponent < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-d.exponent - 1), '0');
      out.append(digits);
    } else if (d.length <= d.exponent + 1) {
      out.append(digits);
      out.append(static_cast<size_t>(d.exponent + 1 - d.length), '0');
    } else {
      out.append(digits.substr(0, static_cast<size_t>(d.exponent + 1)));
      out.push_back('.');
      out.append(digits.substr(static_cast<size_t>(d.exponent + 1)));
    }
    return;
  }
  out.push_back(digits.front());
  if (d.length > 1) {
    out.push_back('.');
    out.append(digits.substr(1));
  }
  out.push_back('e');
  out.push_back(d.exponent < 0 ? '-' : '+');
  const int magnitude = d.exponent < 0 ? -d.exponent : d.exponent;
  if (magnitude < 10) out.push_back('0');
  out.append(std::to_string(magnitude));
}

template <typename Float>
bool FloatToText(std::string_view binary, std::string& out) {
  using Bits = typename Ieee<Float>::Bits;
  if (binary.size() != sizeof(Bits)) return false;
  const auto bits = static_cast<Bits>(LoadBigEndian(binary));
  Float x;
  std::memcpy(&x, &bits, sizeof(x));
  out.clear();
  AppendFloat(x, out);
  return true;
}

// Decimal or exponent notation with an optional sign, or NaN / Infinity / inf in any case.
template <typename Float>
bool TextToFloat(std::string_view text, std::string& out) {
  using Bits = typename Ieee<Float>::Bits;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return false;
  Float x = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  // The server always sends its one quiet NaN, whatever sign or payload the text asked for.
  if (std::isnan(x)) x = std::numeric_limits<Float>::quiet_NaN();
  Bits bits;
  std::memcpy(&bits, &x, sizeof(bits));
  out.clear();
  AppendBigEndian(bits, sizeof(Bits), out);
  return true;
}

}  // namespace

bool Float4ToText(std::string_view binary, std::string& out) { return FloatToText<float>(binary, out); }
bool Float8ToText(std::string_view binary, std::string& out) { return FloatToText<double>(binary, out); }
bool TextToFloat4(std::string_view text, std::string& out) { return TextToFloat<float>(text, out); }
bool TextToFloat8(std::string_view text, std::string& out) { return TextToFloat<double>(text, out); }

}  // namespace pgmask::policy::binary
