#include "policy/alphabets.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "policy/utf8.h"

namespace pgmask::policy {
namespace {

size_t Utf8Length(uint32_t code_point) {
  std::string out;
  AppendCodePoint(code_point, out);
  return out.size();
}

// What the tokenizer relies on: each code point of an alphabet is found there at its index, no
// code point is in two alphabets, the numerals fit FF1's radix, and an alphabet never mixes
// UTF-8 lengths (so a token is never longer in bytes than its value).
TEST(AlphabetsTest, EveryCodePointIsFoundAtItsIndexInOneAlphabet) {
  std::set<uint32_t> seen;
  for (size_t a = 0; a < kAlphabetCount; ++a) {
    const Alphabet& alphabet = AlphabetAt(a);
    ASSERT_LE(alphabet.radix, 256u) << a;
    ASSERT_GE(static_cast<uint64_t>(alphabet.width == 2 ? alphabet.radix * alphabet.radix : alphabet.radix),
              alphabet.size) << a;
    const size_t length = Utf8Length(AlphabetCodePoint(a, 0));
    for (uint32_t i = 0; i < alphabet.size; ++i) {
      const uint32_t code_point = AlphabetCodePoint(a, i);
      ASSERT_TRUE(seen.insert(code_point).second) << std::hex << code_point;
      ASSERT_GE(code_point, 0x80u);
      ASSERT_FALSE(code_point >= 0xD800 && code_point <= 0xDFFF);
      ASSERT_EQ(Utf8Length(code_point), length) << std::hex << code_point;
      const std::optional<AlphabetLetter> letter = FindAlphabetLetter(code_point);
      ASSERT_TRUE(letter.has_value()) << std::hex << code_point;
      EXPECT_EQ(letter->alphabet, a);
      EXPECT_EQ(letter->index, i);
    }
  }
}

uint8_t AlphabetOf(uint32_t code_point) { return FindAlphabetLetter(code_point)->alphabet; }

TEST(AlphabetsTest, CaseIsItsOwnAlphabet) {
  // Ж ж, Ł ł, Σ σ ς, É é ß, Ґ ґ, Ạ ạ
  EXPECT_NE(AlphabetOf(0x416), AlphabetOf(0x436));
  EXPECT_EQ(AlphabetOf(0x401), AlphabetOf(0x416));  // Ё with the capitals
  EXPECT_NE(AlphabetOf(0x141), AlphabetOf(0x142));
  EXPECT_EQ(AlphabetOf(0x142), AlphabetOf(0x101));
  EXPECT_NE(AlphabetOf(0x3A3), AlphabetOf(0x3C3));
  EXPECT_EQ(AlphabetOf(0x3C2), AlphabetOf(0x3C3));
  EXPECT_EQ(AlphabetOf(0x3AD), AlphabetOf(0x3B5));  // έ with ε
  EXPECT_NE(AlphabetOf(0xC9), AlphabetOf(0xE9));
  EXPECT_EQ(AlphabetOf(0xDF), AlphabetOf(0xE9));
  EXPECT_NE(AlphabetOf(0x490), AlphabetOf(0x491));
  EXPECT_NE(AlphabetOf(0x1EA0), AlphabetOf(0x1EA1));
}

TEST(AlphabetsTest, SymbolsAndUnlistedCodePointsAreInNone) {
  for (const uint32_t code_point : {0x80u, 0xA0u, 0xAAu, 0xD7u, 0xF7u, 0x3A2u, 0x482u, 0x2014u,
                                    0x20ACu, 0x2603u, 0x3000u, 0xFFFDu, 0x1F600u, 0x20000u}) {
    EXPECT_FALSE(FindAlphabetLetter(code_point).has_value()) << std::hex << code_point;
  }
}

}  // namespace
}  // namespace pgmask::policy
