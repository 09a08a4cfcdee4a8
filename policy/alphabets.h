// The alphabets `tokenize` permutes non-ASCII letters and digits in (see tokenizer.h).
//
// A code point in one of them is a numeral (its index in the alphabet) and is replaced by another
// code point of the same alphabet, so a Cyrillic letter stays a Cyrillic letter, a CJK ideograph
// an ideograph. Where a script has simple case pairs, upper and lower case are separate alphabets
// (so case is kept, as for ASCII letters); Latin Extended-B and the combining marks have none.
// Every alphabet lies within one UTF-8 length, so a token never grows in bytes. Code points in no
// alphabet (symbols, emoji, punctuation, scripts not listed) have no token: the tokenizer writes
// a placeholder for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace pgmask::policy {

// Code points first, first + stride, first + 2 * stride, ...: `count` of them.
struct CodePointRun {
  uint32_t first;
  uint32_t count;
  uint32_t stride;
};

struct Alphabet {
  std::span<const CodePointRun> runs;
  uint32_t size;   // code points in all runs
  uint32_t radix;  // of its FF1 numerals: the size, or above 256 the smallest r with r*r >= size
  uint32_t width;  // numerals per code point: 1, or 2 above 256 (FF1 here takes radix <= 256)
};

inline constexpr size_t kAlphabetCount = 32;

const Alphabet& AlphabetAt(size_t alphabet);

struct AlphabetLetter {
  uint8_t alphabet;
  uint32_t index;  // < AlphabetAt(alphabet).size
};

// The alphabet `code_point` is in and its index there; nullopt when in none.
std::optional<AlphabetLetter> FindAlphabetLetter(uint32_t code_point);

// The inverse: the code point at `index` (< size) of `alphabet`.
uint32_t AlphabetCodePoint(size_t alphabet, uint32_t index);

}  // namespace pgmask::policy
