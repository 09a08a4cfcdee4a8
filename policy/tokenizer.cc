#include "policy/tokenizer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/strings/ascii.h"
#include "policy/date_time.h"
#include "policy/utf8.h"

namespace pgmask::policy {
namespace {

constexpr size_t kChunk = 128;
// Cycle walks are expected to take a handful of steps (at most ~26 for one letter); a walk
// this long has probability below 2^-50, so stopping keeps a bad input from spinning.
constexpr int kMaxWalkSteps = 1000;
constexpr size_t kMaxMantissaDigits = 40;
// Written for a non-ASCII code point that is in no alphabet: never the character itself.
constexpr char kNoToken = '*';

constexpr int64_t kSecondsPerDay = 86400;
const int64_t kFirstDay = DaysFromCivil(CivilDate{1, 1, 1});
const int64_t kDayCount = DaysFromCivil(CivilDate{9999, 12, 31}) - kFirstDay + 1;

bool AnyValue(std::span<const uint8_t>) { return true; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHex[] = "0123456789abcdef";

// The limit of |value| for an integer type, as decimal digits.
std::string_view IntegerLimit(PgType type, bool negative) {
  switch (type) {
    case PgType::kInt2: return negative ? "32768" : "32767";
    case PgType::kInt4: return negative ? "2147483648" : "2147483647";
    default: return negative ? "9223372036854775808" : "9223372036854775807";
  }
}

// A decimal as PostgreSQL prints numeric and float: -?D+(.D+)?(e[+-]D+)?
struct DecimalParts {
  bool negative = false;
  std::string_view integer;
  std::string_view fraction;
  std::string_view exponent;  // including the 'e'
};

bool ParseDecimal(std::string_view s, bool allow_exponent, DecimalParts& parts) {
  parts = DecimalParts{};
  if (!s.empty() && s[0] == '-') {
    parts.negative = true;
    s.remove_prefix(1);
  }
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) ++i;
  parts.integer = s.substr(0, i);
  if (parts.integer.empty()) return false;
  s.remove_prefix(i);
  if (!s.empty() && s[0] == '.') {
    i = 1;
    while (i < s.size() && IsDigit(s[i])) ++i;
    parts.fraction = s.substr(1, i - 1);
    if (parts.fraction.empty()) return false;
    s.remove_prefix(i);
  }
  if (!s.empty() && allow_exponent && (s[0] == 'e' || s[0] == 'E')) {
    size_t j = 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (!AllDigits(s.substr(j))) return false;
    parts.exponent = s;
    s = {};
  }
  return s.empty();
}

bool IsSpecialNumber(std::string_view s) {
  return s == "NaN" || s == "Infinity" || s == "-Infinity";
}


}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::Create(const Key& key) {
  absl::StatusOr<Ff1> ff1 = Ff1::Create(key.bytes());
  if (!ff1.ok()) return ff1.status();
  return Tokenizer(*std::move(ff1));
}

bool Tokenizer::Tokenize(PgType type, std::string_view value, std::string& out) {
  return Transform(Direction::kEncrypt, type, value, out);
}

bool Tokenizer::Detokenize(PgType type, std::string_view token, std::string& out) {
  return Transform(Direction::kDecrypt, type, token, out);
}

bool Tokenizer::Transform(Direction dir, PgType type, std::string_view in, std::string& out) {
  out.clear();
  switch (type) {
    case PgType::kText:
    case PgType::kVarchar:
    case PgType::kBpchar:
    case PgType::kName: return Text(dir, in, out);
    case PgType::kInt2:
    case PgType::kInt4:
    case PgType::kInt8: return Integer(dir, type, in, out);
    case PgType::kNumeric:
    case PgType::kFloat4:
    case PgType::kFloat8: return Decimal(dir, type, in, out);
    case PgType::kDate: return Date(dir, in, out);
    case PgType::kTimestamp: return Timestamp(dir, false, in, out);
    case PgType::kTimestamptz: return Timestamp(dir, true, in, out);
    case PgType::kTime: return Time(dir, in, out);
    case PgType::kUuid: return Uuid(dir, in, out);
    case PgType::kInet: return Inet(dir, in, out);
    default: return false;
  }
}

bool Tokenizer::Permute(Direction dir, uint32_t radix, std::span<uint8_t> numerals,
                        Acceptable acceptable) {
  if (numerals.empty()) return true;
  if (!acceptable(numerals)) return false;
  if (numerals.size() <= kChunk) return PermuteChunk(dir, radix, Tweak{}, numerals, acceptable);
  // Near-equal chunks; only the first carries the constraint (callers' constraints look at the
  // leading numerals only).
  const size_t chunks = (numerals.size() + kChunk - 1) / kChunk;
  size_t start = 0;
  for (size_t c = 0; c < chunks; ++c) {
    const size_t end = numerals.size() * (c + 1) / chunks;
    const Tweak tweak{static_cast<uint32_t>(c), std::nullopt};
    if (!PermuteChunk(dir, radix, tweak, numerals.subspan(start, end - start),
                      c == 0 ? acceptable : Acceptable(AnyValue))) {
      return false;
    }
    start = end;
  }
  return true;
}

bool Tokenizer::PermuteChunk(Direction dir, uint32_t radix, Tweak tweak,
                             std::span<uint8_t> numerals, Acceptable acceptable) {
  if (Ff1::DomainLargeEnough(radix, numerals.size())) {
    return Walk(dir, radix, tweak, numerals, acceptable);
  }
  // Too small for FF1: left-pad with zeros to the shortest length FF1 accepts, and walk until
  // the padding is zero again.
  size_t width = numerals.size();
  while (!Ff1::DomainLargeEnough(radix, width)) ++width;
  const size_t pad = width - numerals.size();
  embedded_.assign(pad, 0);
  embedded_.insert(embedded_.end(), numerals.begin(), numerals.end());
  auto padded_acceptable = [&](std::span<const uint8_t> candidate) {
    for (size_t i = 0; i < pad; ++i) {
      if (candidate[i] != 0) return false;
    }
    return acceptable(candidate.subspan(pad));
  };
  if (!Walk(dir, radix, tweak, embedded_, padded_acceptable)) return false;
  std::copy(embedded_.begin() + static_cast<std::ptrdiff_t>(pad), embedded_.end(),
            numerals.begin());
  return true;
}

bool Tokenizer::Walk(Direction dir, uint32_t radix, Tweak tweak, std::span<uint8_t> numerals,
                     Acceptable acceptable) {
  // The tweak is short (the chunk index, and an alphabet's number): short enough that FF1's PRF
  // input is one block for values up to 19 digits, which halves the AES calls per round.
  const uint32_t chunk = tweak.chunk;
  const uint8_t bytes[5] = {tweak.alphabet.value_or(0), static_cast<uint8_t>(chunk >> 24),
                            static_cast<uint8_t>(chunk >> 16), static_cast<uint8_t>(chunk >> 8),
                            static_cast<uint8_t>(chunk)};
  const std::span<const uint8_t> tweak_bytes =
      std::span<const uint8_t>(bytes).subspan(tweak.alphabet.has_value() ? 0 : 1);
  for (int step = 0; step < kMaxWalkSteps; ++step) {
    const absl::Status status = dir == Direction::kEncrypt
                                    ? ff1_.Encrypt(radix, tweak_bytes, numerals)
                                    : ff1_.Decrypt(radix, tweak_bytes, numerals);
    if (!status.ok()) return false;
    if (acceptable(numerals)) return true;
  }
  return false;
}

// Permutes `value` within [0, domain) as a binary string as wide as domain - 1, walking past
// values >= domain: fewer than two FF1 calls on average, where decimal digits could need ten.
bool Tokenizer::PermuteNumber(Direction dir, uint64_t domain, uint64_t& value) {
  if (value >= domain) return false;
  size_t width = 0;
  while (width < 64 && ((domain - 1) >> width) != 0) ++width;
  digits_.resize(width);
  for (size_t i = 0; i < width; ++i) digits_[i] = static_cast<uint8_t>((value >> (width - 1 - i)) & 1);
  auto bits_value = [](std::span<const uint8_t> bits) {
    uint64_t v = 0;
    for (const uint8_t bit : bits) v = (v << 1) | bit;
    return v;
  };
  auto in_domain = [&](std::span<const uint8_t> bits) { return bits_value(bits) < domain; };
  if (!Permute(dir, 2, digits_, in_domain)) return false;
  value = bits_value(digits_);
  return true;
}

// A non-ASCII alphabet's numerals, in chunks of whole code points. With two numerals per code
// point the pair must name one of the alphabet's code points, in every chunk.
bool Tokenizer::PermuteAlphabet(Direction dir, size_t alphabet, std::span<uint8_t> numerals) {
  const Alphabet& a = AlphabetAt(alphabet);
  if (a.width == 1 && numerals.size() == 1) return PermuteLoneLetter(dir, alphabet, numerals[0]);
  auto in_alphabet = [&a](std::span<const uint8_t> pairs) {
    for (size_t i = 0; a.width == 2 && i + 1 < pairs.size(); i += 2) {
      if (pairs[i] * a.radix + pairs[i + 1] >= a.size) return false;
    }
    return true;
  };
  const size_t letters = numerals.size() / a.width;
  const size_t chunks = (letters + kChunk / a.width - 1) / (kChunk / a.width);
  size_t start = 0;
  for (size_t c = 0; c < chunks; ++c) {
    const size_t end = letters * (c + 1) / chunks;
    const Tweak tweak{static_cast<uint32_t>(c), static_cast<uint8_t>(alphabet)};
    const std::span<uint8_t> chunk = numerals.subspan(start * a.width, (end - start) * a.width);
    if (!PermuteChunk(dir, a.radix, tweak, chunk, in_alphabet)) {
      return false;
    }
    start = end;
  }
  return true;
}

// FF1 takes two numerals at least. A lone code point of a one-numeral alphabet is written as two
// numerals of the smallest radix whose square holds both the alphabet and FF1's minimum domain,
// and walked until it names one of the alphabet's code points: a few FF1 calls, where padding
// with a zero (as for a lone ASCII letter) would take about as many as the alphabet has letters.
bool Tokenizer::PermuteLoneLetter(Direction dir, size_t alphabet, uint8_t& numeral) {
  const uint32_t size = AlphabetAt(alphabet).size;
  uint32_t radix = 2;
  while (radix * radix < std::max<uint64_t>(size, Ff1::kMinDomain)) ++radix;
  uint8_t pair[2] = {static_cast<uint8_t>(numeral / radix), static_cast<uint8_t>(numeral % radix)};
  auto in_alphabet = [&](std::span<const uint8_t> p) { return p[0] * radix + p[1] < size; };
  if (!Walk(dir, radix, Tweak{0, static_cast<uint8_t>(alphabet)}, pair, in_alphabet)) return false;
  numeral = static_cast<uint8_t>(pair[0] * radix + pair[1]);
  return true;
}

bool Tokenizer::Text(Direction dir, std::string_view in, std::string& out) {
  if (!IsValidUtf8(in)) return false;
  CollectTextNumerals(in);
  if (!Permute(dir, 10, digits_, AnyValue) || !Permute(dir, 26, letters_, AnyValue)) return false;
  for (size_t a = 0; a < kAlphabetCount; ++a) {
    if (!PermuteAlphabet(dir, a, alphabet_numerals_[a])) return false;
  }
  WriteText(in, out);
  return true;
}

// The numerals of `in` (valid UTF-8) per kind: ASCII digits, ASCII letters (case folded), and
// each non-ASCII alphabet's indices (two numerals each in an alphabet wider than a byte).
void Tokenizer::CollectTextNumerals(std::string_view in) {
  digits_.clear();
  letters_.clear();
  for (std::vector<uint8_t>& numerals : alphabet_numerals_) numerals.clear();
  for (size_t pos = 0; pos < in.size();) {
    const uint32_t code_point = NextCodePoint(in, pos);
    if (code_point < 0x80) {
      const auto c = static_cast<unsigned char>(code_point);
      if (IsDigit(static_cast<char>(c))) {
        digits_.push_back(static_cast<uint8_t>(c - '0'));
      } else if (absl::ascii_isalpha(c)) {
        letters_.push_back(static_cast<uint8_t>(absl::ascii_tolower(c) - 'a'));
      }
    } else if (const std::optional<AlphabetLetter> letter = FindAlphabetLetter(code_point)) {
      const Alphabet& a = AlphabetAt(letter->alphabet);
      std::vector<uint8_t>& numerals = alphabet_numerals_[letter->alphabet];
      if (a.width == 2) numerals.push_back(static_cast<uint8_t>(letter->index / a.radix));
      numerals.push_back(static_cast<uint8_t>(letter->index % a.radix));
    }
  }
}

// `in` again, each digit, letter and alphabet code point taking the next permuted numerals of
// its kind; a non-ASCII code point in no alphabet has no token and becomes kNoToken.
void Tokenizer::WriteText(std::string_view in, std::string& out) {
  out.clear();
  size_t next_digit = 0;
  size_t next_letter = 0;
  std::array<size_t, kAlphabetCount> next{};
  for (size_t pos = 0; pos < in.size();) {
    const uint32_t code_point = NextCodePoint(in, pos);
    if (code_point < 0x80) {
      auto c = static_cast<char>(code_point);
      if (IsDigit(c)) {
        c = static_cast<char>('0' + digits_[next_digit++]);
      } else if (absl::ascii_isalpha(static_cast<unsigned char>(c))) {
        const char base = absl::ascii_isupper(static_cast<unsigned char>(c)) ? 'A' : 'a';
        c = static_cast<char>(base + letters_[next_letter++]);
      }
      out.push_back(c);
    } else if (const std::optional<AlphabetLetter> letter = FindAlphabetLetter(code_point)) {
      const Alphabet& a = AlphabetAt(letter->alphabet);
      const std::vector<uint8_t>& numerals = alphabet_numerals_[letter->alphabet];
      size_t& i = next[letter->alphabet];
      uint32_t index = numerals[i++];
      if (a.width == 2) index = index * a.radix + numerals[i++];
      AppendCodePoint(AlphabetCodePoint(letter->alphabet, index), out);
    } else {
      out.push_back(kNoToken);
    }
  }
}

bool Tokenizer::Integer(Direction dir, PgType type, std::string_view in, std::string& out) {
  const bool negative = !in.empty() && in[0] == '-';
  const std::string_view magnitude = negative ? in.substr(1) : in;
  const std::string_view limit = IntegerLimit(type, negative);
  if (!AllDigits(magnitude) || magnitude.size() > limit.size()) return false;
  if (magnitude.size() > 1 && magnitude[0] == '0') return false;
  uint64_t value = 0;
  uint64_t max = 0;
  for (const char c : magnitude) value = value * 10 + static_cast<uint64_t>(c - '0');
  for (const char c : limit) max = max * 10 + static_cast<uint64_t>(c - '0');
  // Same digit count and sign: [10^(k-1), 10^k - 1], capped by the type's range; one digit
  // is 0..9, or 1..9 when negative ("-0" is not a value PostgreSQL prints).
  uint64_t low = 1;
  for (size_t i = 1; i < magnitude.size(); ++i) low *= 10;
  const uint64_t high = std::min(max, low * 10 - 1);
  if (magnitude.size() == 1) low = negative ? 1 : 0;
  if (value < low || value > high) return false;
  uint64_t offset = value - low;
  if (!PermuteNumber(dir, high - low + 1, offset)) return false;
  if (negative) out.push_back('-');
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), low + offset);
  if (ec != std::errc()) return false;
  out.append(buf, end);
  return true;
}

bool Tokenizer::Decimal(Direction dir, PgType type, std::string_view in, std::string& out) {
  if (IsSpecialNumber(in)) {
    out.assign(in);
    return true;
  }
  const bool is_float = type != PgType::kNumeric;
  DecimalParts parts;
  if (!ParseDecimal(in, is_float, parts)) return false;
  if (is_float && parts.integer.size() + parts.fraction.size() > kMaxMantissaDigits) return false;
  digits_.clear();
  for (const char c : parts.integer) digits_.push_back(static_cast<uint8_t>(c - '0'));
  for (const char c : parts.fraction) digits_.push_back(static_cast<uint8_t>(c - '0'));
  const size_t int_len = parts.integer.size();
  auto render = [&](std::span<const uint8_t> d, std::string& text) {
    text.clear();
    if (parts.negative) text.push_back('-');
    for (size_t i = 0; i < d.size(); ++i) {
      if (i == int_len) text.push_back('.');
      text.push_back(static_cast<char>('0' + d[i]));
    }
    text.append(parts.exponent);
  };
  auto acceptable = [&](std::span<const uint8_t> d) {
    if (int_len > 1 && d[0] == 0) return false;
    if (!is_float) return true;
    render(d, candidate_);
    const char* first = candidate_.data();
    const char* last = first + candidate_.size();
    if (type == PgType::kFloat4) {
      float f = 0;
      auto [ptr, ec] = std::from_chars(first, last, f);
      return ec == std::errc() && ptr == last;
    }
    double v = 0;
    auto [ptr, ec] = std::from_chars(first, last, v);
    return ec == std::errc() && ptr == last;
  };
  if (!Permute(dir, 10, digits_, acceptable)) return false;
  render(digits_, out);
  return true;
}

bool Tokenizer::Date(Direction dir, std::string_view in, std::string& out) {
  CivilDate date;
  if (!ParseIsoDate(in, date)) return false;
  uint64_t index = static_cast<uint64_t>(DaysFromCivil(date) - kFirstDay);
  const uint64_t domain = static_cast<uint64_t>(kDayCount);
  if (!PermuteNumber(dir, domain, index)) return false;
  AppendDate(CivilFromDays(kFirstDay + static_cast<int64_t>(index)), out);
  return true;
}

bool Tokenizer::Fraction(Direction dir, std::string_view in, std::string& out) {
  digits_.clear();
  for (const char c : in) digits_.push_back(static_cast<uint8_t>(c - '0'));
  // PostgreSQL prints no trailing zeros; keep it that way so the token prints as it is.
  auto acceptable = [](std::span<const uint8_t> d) { return d.back() != 0; };
  if (!Permute(dir, 10, digits_, acceptable)) return false;
  for (const uint8_t d : digits_) out.push_back(static_cast<char>('0' + d));
  return true;
}

bool Tokenizer::Timestamp(Direction dir, bool with_zone, std::string_view in, std::string& out) {
  IsoTimestamp ts;
  if (!(with_zone ? ParseIsoInstant(in, ts) : ParseIsoTimestamp(in, false, ts))) return false;
  const uint64_t domain = static_cast<uint64_t>(kDayCount) * kSecondsPerDay;
  uint64_t index = static_cast<uint64_t>(DaysFromCivil(ts.date) - kFirstDay) * kSecondsPerDay +
                   static_cast<uint64_t>(ts.time.hour * 3600 + ts.time.minute * 60 + ts.time.second);
  if (!PermuteNumber(dir, domain, index)) return false;
  AppendDate(CivilFromDays(kFirstDay + static_cast<int64_t>(index / kSecondsPerDay)), out);
  out.push_back(' ');
  const auto second = static_cast<int>(index % kSecondsPerDay);
  AppendTime(CivilTime{second / 3600, second / 60 % 60, second % 60, {}}, out);
  if (!ts.time.fraction.empty()) {
    out.push_back('.');
    if (!Fraction(dir, ts.time.fraction, out)) return false;
  }
  out.append(ts.zone);
  return true;
}

bool Tokenizer::Time(Direction dir, std::string_view in, std::string& out) {
  CivilTime time;
  if (!ParseIsoTime(in, time)) return false;
  uint64_t index = static_cast<uint64_t>(time.hour * 3600 + time.minute * 60 + time.second);
  if (!PermuteNumber(dir, kSecondsPerDay, index)) return false;
  const auto second = static_cast<int>(index);
  AppendTime(CivilTime{second / 3600, second / 60 % 60, second % 60, {}}, out);
  if (!time.fraction.empty()) {
    out.push_back('.');
    if (!Fraction(dir, time.fraction, out)) return false;
  }
  return true;
}

bool Tokenizer::Uuid(Direction dir, std::string_view in, std::string& out) {
  if (in.size() != 36) return false;
  digits_.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position) {
      if (in[i] != '-') return false;
      continue;
    }
    const int v = HexValue(in[i]);
    if (v < 0) return false;
    digits_.push_back(static_cast<uint8_t>(v));
  }
  if (!Permute(dir, 16, digits_, AnyValue)) return false;
  size_t d = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    out.push_back(in[i] == '-' ? '-' : kHex[digits_[d++]]);
  }
  return true;
}

bool Tokenizer::Inet(Direction dir, std::string_view in, std::string& out) {
  const size_t slash = in.find('/');
  const std::string_view address = in.substr(0, slash);
  const std::string_view suffix = slash == std::string_view::npos ? "" : in.substr(slash);
  char text[INET6_ADDRSTRLEN] = {};
  if (address.size() >= sizeof(text)) return false;
  std::memcpy(text, address.data(), address.size());
  uint8_t bytes[16];
  if (inet_pton(AF_INET, text, bytes) == 1) {
    uint64_t value = (uint64_t{bytes[0]} << 24) | (uint64_t{bytes[1]} << 16) |
                     (uint64_t{bytes[2]} << 8) | bytes[3];
    constexpr uint64_t kDomain = uint64_t{1} << 32;
    if (!PermuteNumber(dir, kDomain, value)) return false;
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
    if (inet_ntop(AF_INET, bytes, text, sizeof(text)) == nullptr) return false;
  } else if (inet_pton(AF_INET6, text, bytes) == 1) {
    digits_.clear();
    for (const uint8_t b : bytes) {
      digits_.push_back(b >> 4);
      digits_.push_back(b & 0xF);
    }
    if (!Permute(dir, 16, digits_, AnyValue)) return false;
    for (size_t i = 0; i < 16; ++i) {
      bytes[i] = static_cast<uint8_t>((digits_[2 * i] << 4) | digits_[2 * i + 1]);
    }
    if (inet_ntop(AF_INET6, bytes, text, sizeof(text)) == nullptr) return false;
  } else {
    return false;
  }
  out.append(text);
  out.append(suffix);
  return true;
}

}  // namespace pgmask::policy
