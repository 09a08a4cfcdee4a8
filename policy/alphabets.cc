#include "policy/alphabets.h"

#include <array>

namespace pgmask::policy {
namespace {

using Runs = std::span<const CodePointRun>;

// Scripts in Unicode order. Runs of stride 2 are the case pairs of blocks that alternate upper
// and lower case (Latin Extended-A, Cyrillic's extension, Latin Extended Additional).
constexpr CodePointRun kLatin1Upper[] = {{0xC0, 23, 1}, {0xD8, 7, 1}};  // not × U+00D7
constexpr CodePointRun kLatin1Lower[] = {{0xDF, 24, 1}, {0xF8, 8, 1}};  // not ÷ U+00F7
constexpr CodePointRun kLatinExtAUpper[] = {
    {0x100, 28, 2}, {0x139, 8, 2}, {0x14A, 23, 2}, {0x178, 1, 1}, {0x179, 3, 2}};
constexpr CodePointRun kLatinExtALower[] = {{0x101, 28, 2}, {0x138, 1, 1}, {0x13A, 8, 2}, {0x149, 1, 1},
                                            {0x14B, 23, 2}, {0x17A, 3, 2}, {0x17F, 1, 1}};
constexpr CodePointRun kLatinExtB[] = {{0x180, 208, 1}};
constexpr CodePointRun kCombiningMarks[] = {{0x300, 112, 1}};
constexpr CodePointRun kGreekUpper[] = {{0x386, 1, 1}, {0x388, 3, 1}, {0x38C, 1, 1},
                                        {0x38E, 2, 1}, {0x391, 17, 1}, {0x3A3, 9, 1}};
constexpr CodePointRun kGreekLower[] = {{0x390, 1, 1}, {0x3AC, 35, 1}};
constexpr CodePointRun kCyrillicUpper[] = {{0x400, 48, 1}};
constexpr CodePointRun kCyrillicLower[] = {{0x430, 48, 1}};
constexpr CodePointRun kCyrillicExtUpper[] = {
    {0x460, 17, 2}, {0x48A, 27, 2}, {0x4C0, 1, 1}, {0x4C1, 7, 2}, {0x4D0, 24, 2}};
constexpr CodePointRun kCyrillicExtLower[] = {
    {0x461, 17, 2}, {0x48B, 27, 2}, {0x4C2, 7, 2}, {0x4CF, 1, 1}, {0x4D1, 24, 2}};
constexpr CodePointRun kArmenianUpper[] = {{0x531, 38, 1}};
constexpr CodePointRun kArmenianLower[] = {{0x561, 38, 1}};
constexpr CodePointRun kHebrew[] = {{0x5D0, 27, 1}};
constexpr CodePointRun kArabic[] = {{0x620, 43, 1}, {0x671, 99, 1}};
constexpr CodePointRun kArabicIndicDigits[] = {{0x660, 10, 1}};
constexpr CodePointRun kPersianDigits[] = {{0x6F0, 10, 1}};
constexpr CodePointRun kDevanagariLetters[] = {{0x904, 54, 1}};
constexpr CodePointRun kDevanagariSigns[] = {{0x93E, 16, 1}};
constexpr CodePointRun kDevanagariDigits[] = {{0x966, 10, 1}};
constexpr CodePointRun kGeorgian[] = {{0x10D0, 43, 1}};
constexpr CodePointRun kLatinExtAdditionalUpper[] = {{0x1E00, 75, 2}, {0x1E9E, 1, 1}, {0x1EA0, 48, 2}};
constexpr CodePointRun kLatinExtAdditionalLower[] = {
    {0x1E01, 75, 2}, {0x1E96, 8, 1}, {0x1E9F, 1, 1}, {0x1EA1, 48, 2}};
constexpr CodePointRun kHiragana[] = {{0x3041, 86, 1}};
constexpr CodePointRun kKatakana[] = {{0x30A1, 90, 1}, {0x30FC, 1, 1}};  // and the long-vowel mark
constexpr CodePointRun kCjkExtensionA[] = {{0x3400, 6592, 1}};
constexpr CodePointRun kCjkUnified[] = {{0x4E00, 20992, 1}};
constexpr CodePointRun kHangulSyllables[] = {{0xAC00, 11172, 1}};
constexpr CodePointRun kFullwidthDigits[] = {{0xFF10, 10, 1}};
constexpr CodePointRun kFullwidthUpper[] = {{0xFF21, 26, 1}};
constexpr CodePointRun kFullwidthLower[] = {{0xFF41, 26, 1}};

constexpr Alphabet Make(Runs runs) {
  uint32_t size = 0;
  for (const CodePointRun& run : runs) size += run.count;
  constexpr uint32_t kMaxRadix = 256;
  if (size <= kMaxRadix) return Alphabet{runs, size, size, 1};
  uint32_t radix = 1;
  while (radix * radix < size) ++radix;
  return Alphabet{runs, size, radix, 2};
}

constexpr std::array<Alphabet, kAlphabetCount> kAlphabets = {
    Make(kLatin1Upper),       Make(kLatin1Lower),       Make(kLatinExtAUpper),
    Make(kLatinExtALower),    Make(kLatinExtB),         Make(kCombiningMarks),
    Make(kGreekUpper),        Make(kGreekLower),        Make(kCyrillicUpper),
    Make(kCyrillicLower),     Make(kCyrillicExtUpper),  Make(kCyrillicExtLower),
    Make(kArmenianUpper),     Make(kArmenianLower),     Make(kHebrew),
    Make(kArabic),            Make(kArabicIndicDigits), Make(kPersianDigits),
    Make(kDevanagariLetters), Make(kDevanagariSigns),   Make(kDevanagariDigits),
    Make(kGeorgian),          Make(kLatinExtAdditionalUpper), Make(kLatinExtAdditionalLower),
    Make(kHiragana),          Make(kKatakana),          Make(kCjkExtensionA),
    Make(kCjkUnified),        Make(kHangulSyllables),   Make(kFullwidthDigits),
    Make(kFullwidthUpper),    Make(kFullwidthLower)};

// Every run is tried in turn: a few dozen comparisons per non-ASCII character, small next to
// the AES calls of the permutation that follows.
std::optional<uint32_t> IndexIn(const Alphabet& alphabet, uint32_t code_point) {
  uint32_t base = 0;
  for (const CodePointRun& run : alphabet.runs) {
    if (code_point >= run.first) {
      const uint32_t offset = code_point - run.first;
      const uint32_t step = offset / run.stride;
      if (offset % run.stride == 0 && step < run.count) return base + step;
    }
    base += run.count;
  }
  return std::nullopt;
}

}  // namespace

const Alphabet& AlphabetAt(size_t alphabet) { return kAlphabets[alphabet]; }

std::optional<AlphabetLetter> FindAlphabetLetter(uint32_t code_point) {
  for (size_t a = 0; a < kAlphabets.size(); ++a) {
    if (const std::optional<uint32_t> index = IndexIn(kAlphabets[a], code_point)) {
      return AlphabetLetter{static_cast<uint8_t>(a), *index};
    }
  }
  return std::nullopt;
}

uint32_t AlphabetCodePoint(size_t alphabet, uint32_t index) {
  for (const CodePointRun& run : kAlphabets[alphabet].runs) {
    if (index < run.count) return run.first + index * run.stride;
    index -= run.count;
  }
  return 0;  // unreachable for index < size
}

}  // namespace pgmask::policy
