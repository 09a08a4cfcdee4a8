// `tokenize`: keyed, deterministic, format-preserving and reversible tokens, built on FF1.
//
// How each type keeps its format (tokens are a bijection on the set of valid values described):
//   text, varchar, bpchar, name: ASCII digits are one radix-10 FF1 string, ASCII letters one
//     radix-26 string (each position keeps its case), and the code points of each non-ASCII
//     alphabet of alphabets.h (Latin-1 and Latin Extended letters, Greek, Cyrillic, Hebrew,
//     Arabic, CJK ideographs, Hangul syllables, kana, ...) one string of that alphabet; each is
//     permuted with the same key and tweaks that keep them apart. Every other non-ASCII code
//     point (emoji, symbols, unlisted scripts) becomes the placeholder '*', so no non-ASCII
//     character is ever copied; such a token still is deterministic, but detokenizes to '*'
//     there, and values differing only in those characters get the same token. ASCII
//     punctuation, spaces and bpchar's padding stay in place. The code point count never
//     changes and the byte length never grows, so typmod limits hold.
//   int2/int4/int8: same sign, same digit count (no leading zero), and within the type's range:
//     the offset within [10^(k-1), min(10^k - 1, type max)] is permuted.
//   numeric, float4, float8: the digits of the mantissa are tokenized (no new leading zero);
//     sign, decimal point and exponent stay; floats stay finite. NaN and ±Infinity pass as is.
//   date: the day number within 0001-01-01..9999-12-31 is tokenized, giving another date.
//   timestamp/timestamptz: the second within 0001-01-01 00:00:00..9999-12-31 23:59:59 is
//     tokenized; fractional digits separately (the last stays non-zero, as PostgreSQL prints
//     them). A timestamptz is tokenized as an instant, in UTC, and printed with "+00": the offset
//     the server printed depends on the session's TimeZone and is not kept; its detokenized value
//     is the same instant in UTC.
//   time: the second of the day, and the fraction as above.
//   uuid: the 32 hex digits (radix 16), dashes in place.
//   inet: an IPv4 address as a 32-bit number, an IPv6 address as 32 hex digits; /n stays.
//   bool, json, jsonb and other types have no token: Tokenize returns false and the caller
//     redacts (a one-bit token would hide nothing).
//
// Constraints (range, no leading zero, valid date) are kept by cycle walking: FF1 is applied
// again until the result is in the set; decryption walks back the same way. Numbers in a range
// (integer offsets, day and second numbers, IPv4 addresses) are permuted as binary strings as
// wide as the range, so a walk takes fewer than two FF1 calls on average; digit strings
// (text, numeric, float mantissas) use radix 10 and letters radix 26.
// Short strings: FF1 needs radix^length >= 100 (the original SP 800-38G floor; Rev. 1 raises it
// to 1,000,000). A shorter run (one digit, one letter) is embedded in the shortest FF1 domain
// that is large enough by left-padding with zeros, and cycle-walked until the padding is zero
// again: still a keyed, reversible permutation, but of a tiny set. Any token of a value with
// few possibilities (a 4-digit PIN has 10,000) can be guessed by trying them all.
// Long strings are split into chunks of at most 128 numerals, each with its index in the tweak.
//
// The tweak is the chunk index only, not the column, so the same value gets the same token in
// every column and table of the same type family, and joins on tokenized keys still work.
// Detokenizing therefore needs only the key and the column's type. The token key must be used
// for nothing but pgmask tokens.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "policy/alphabets.h"
#include "policy/ff1.h"
#include "policy/key_file.h"
#include "policy/pg_type.h"

namespace pgmask::policy {

class Tokenizer {
 public:
  static absl::StatusOr<Tokenizer> Create(const Key& key);

  // Writes the token of a text-format value of `type` into `out` (replacing its contents).
  // Returns false when the type has no token or the value is not in a form it parses.
  bool Tokenize(PgType type, std::string_view value, std::string& out);

  // The inverse: false when `token` is not a token this tokenizer could have produced.
  bool Detokenize(PgType type, std::string_view token, std::string& out);

 private:
  enum class Direction { kEncrypt, kDecrypt };
  using Acceptable = absl::FunctionRef<bool(std::span<const uint8_t>)>;

  explicit Tokenizer(Ff1 ff1) : ff1_(std::move(ff1)) {}

  bool Transform(Direction dir, PgType type, std::string_view in, std::string& out);
  // FF1's tweak: the chunk index, after the alphabet's number for a non-ASCII alphabet. The
  // lengths differ, so no two alphabets and no ASCII string share a permutation, and ASCII
  // tokens are what they were before non-ASCII alphabets had tokens.
  struct Tweak {
    uint32_t chunk = 0;
    std::optional<uint8_t> alphabet;
  };

  bool Permute(Direction dir, uint32_t radix, std::span<uint8_t> numerals, Acceptable acceptable);
  bool PermuteChunk(Direction dir, uint32_t radix, Tweak tweak, std::span<uint8_t> numerals,
                    Acceptable acceptable);
  bool Walk(Direction dir, uint32_t radix, Tweak tweak, std::span<uint8_t> numerals,
            Acceptable acceptable);
  bool PermuteNumber(Direction dir, uint64_t domain, uint64_t& value);
  bool PermuteAlphabet(Direction dir, size_t alphabet, std::span<uint8_t> numerals);
  bool PermuteLoneLetter(Direction dir, size_t alphabet, uint8_t& numeral);

  bool Text(Direction dir, std::string_view in, std::string& out);
  void CollectTextNumerals(std::string_view in);
  void WriteText(std::string_view in, std::string& out);
  bool Integer(Direction dir, PgType type, std::string_view in, std::string& out);
  bool Decimal(Direction dir, PgType type, std::string_view in, std::string& out);
  bool Date(Direction dir, std::string_view in, std::string& out);
  bool Timestamp(Direction dir, bool with_zone, std::string_view in, std::string& out);
  bool Time(Direction dir, std::string_view in, std::string& out);
  bool Fraction(Direction dir, std::string_view in, std::string& out);
  bool Uuid(Direction dir, std::string_view in, std::string& out);
  bool Inet(Direction dir, std::string_view in, std::string& out);

  Ff1 ff1_;
  // Scratch reused across calls so the hot path does not allocate.
  std::vector<uint8_t> digits_;
  std::vector<uint8_t> letters_;
  std::array<std::vector<uint8_t>, kAlphabetCount> alphabet_numerals_;
  std::vector<uint8_t> embedded_;
  std::string candidate_;
};

}  // namespace pgmask::policy
