#include "policy/tokenizer.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policy/alphabets.h"
#include "policy/utf8.h"
#include "tests/policy/test_keys.h"

namespace pgmask::policy {
namespace {

Tokenizer MakeTokenizer() { return *Tokenizer::Create(testing_keys::TokenKey()); }

std::string Tokenize(Tokenizer& t, PgType type, std::string_view value) {
  std::string out;
  EXPECT_TRUE(t.Tokenize(type, value, out)) << value;
  return out;
}

struct ShapeCase {
  std::string name;
  std::string value;
};

const ShapeCase kShapes[] = {
    {"Ssn", "123-45-6789"},
    {"Card", "4111 1111 1111 1111"},
    {"Email", "Alice.Smith@Example.com"},
    {"Phone", "+1 (555) 010-9999"},
    {"MixedScript", "Zoë-日本-42"},
    {"Cyrillic", "Иван Сидоров"},
    {"CyrillicEmail", "иван.сидоров@почта.рф"},
    {"CyrillicAddress", "ул. Ленина, д. 5, Москва"},
    {"Greek", "Ελένη Παπαδοπούλου"},
    {"Cjk", "张伟 王秀英"},
    {"Japanese", "山田 ハナコ はなこ"},
    {"Hangul", "김민준"},
    {"AccentedLatin", "José Müller-Łukasiewicz, Ærø"},
    {"Vietnamese", "Nguyễn Văn Đức"},
    {"Arabic", "محمد ٤٢"},
    {"CombiningAccent", "Jose\u0301"},
};

class TokenShapeTest : public testing::TestWithParam<ShapeCase> {};

// The kind a code point keeps in a token: ASCII digit, lower or upper letter, a non-ASCII
// alphabet, or itself (ASCII punctuation and spaces).
std::string KindOf(uint32_t code_point) {
  if (code_point >= 0x80) {
    const std::optional<AlphabetLetter> letter = FindAlphabetLetter(code_point);
    return letter ? absl::StrCat("alphabet ", letter->alphabet) : "none";
  }
  const auto c = static_cast<unsigned char>(code_point);
  if (std::isdigit(c)) return "digit";
  if (std::islower(c)) return "lower";
  if (std::isupper(c)) return "upper";
  return std::string(1, static_cast<char>(c));
}

std::vector<uint32_t> CodePoints(std::string_view text) {
  std::vector<uint32_t> code_points;
  for (size_t pos = 0; pos < text.size();) code_points.push_back(NextCodePoint(text, pos));
  return code_points;
}

TEST_P(TokenShapeTest, KeepsClassesCaseAndSeparators) {
  Tokenizer t = MakeTokenizer();
  const std::string& in = GetParam().value;
  const std::string token = Tokenize(t, PgType::kText, in);
  ASSERT_EQ(token.size(), in.size());
  EXPECT_NE(token, in);
  const std::vector<uint32_t> a = CodePoints(in);
  const std::vector<uint32_t> b = CodePoints(token);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(KindOf(a[i]), KindOf(b[i])) << i;
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kText, token, back));
  EXPECT_EQ(back, in);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TokenShapeTest, testing::ValuesIn(kShapes),
                         [](const testing::TestParamInfo<ShapeCase>& info) { return info.param.name; });

TEST(TokenizerTest, SameValueSameTokenAcrossInstancesAndTextTypes) {
  Tokenizer a = MakeTokenizer();
  Tokenizer b = MakeTokenizer();
  for (const std::string_view value : {"123-45-6789", "Иван Сидоров"}) {
    const std::string token = Tokenize(a, PgType::kText, value);
    EXPECT_EQ(Tokenize(b, PgType::kText, value), token);
    EXPECT_EQ(Tokenize(b, PgType::kVarchar, value), token);
  }
  // One more letter changes the others: each alphabet is one FF1 string, not a substitution.
  EXPECT_NE(Tokenize(b, PgType::kText, "Иван Сидорова").substr(0, 23),
            Tokenize(a, PgType::kText, "Иван Сидоров"));
}

TEST(TokenizerTest, TimestamptzTokenIsOfTheInstantInUtc) {
  Tokenizer t = MakeTokenizer();
  const std::string token = Tokenize(t, PgType::kTimestamptz, "2022-03-14 15:09:26.535+00");
  EXPECT_TRUE(token.ends_with("+00") && token.size() == 26) << token;
  for (const std::string_view same : {"2022-03-14 16:09:26.535+01", "2022-03-14 11:39:11.535-03:30:15",
                                      "2022-03-14 20:39:26.535+05:30"}) {
    EXPECT_EQ(Tokenize(t, PgType::kTimestamptz, same), token) << same;
  }
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kTimestamptz, token, back));
  EXPECT_EQ(back, "2022-03-14 15:09:26.535+00");
  std::string out;
  EXPECT_FALSE(t.Tokenize(PgType::kTimestamptz, "0001-01-01 00:30:00+01", out));
}

// Found by a leak probe: tokenize permuted only ASCII letters and digits and copied every other
// character, so Cyrillic, Greek and CJK names and e-mail addresses came back in clear.
TEST(TokenizerTest, NoNonAsciiLetterIsCopied) {
  Tokenizer t = MakeTokenizer();
  for (const ShapeCase& shape : kShapes) {
    const std::vector<uint32_t> in = CodePoints(shape.value);
    const std::vector<uint32_t> token = CodePoints(Tokenize(t, PgType::kText, shape.value));
    ASSERT_EQ(token.size(), in.size()) << shape.name;
    size_t non_ascii = 0;
    size_t unchanged = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] < 0x80) continue;
      ++non_ascii;
      if (token[i] == in[i]) ++unchanged;
    }
    // A permutation may map a character to itself now and then (as for ASCII letters), never
    // most of them.
    EXPECT_LE(unchanged * 4, non_ascii) << shape.name;
  }
}

TEST(TokenizerTest, CodePointsWithoutAnAlphabetBecomeThePlaceholder) {
  Tokenizer t = MakeTokenizer();
  const std::string token = Tokenize(t, PgType::kText, "😀 Zoë ☃ €5");
  const std::vector<uint32_t> code_points = CodePoints(token);
  ASSERT_EQ(code_points.size(), 10u);
  EXPECT_EQ(code_points[0], uint32_t{'*'});
  EXPECT_EQ(code_points[6], uint32_t{'*'});
  EXPECT_EQ(code_points[8], uint32_t{'*'});
  EXPECT_EQ(token.find("😀"), std::string::npos);
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kText, token, back));
  EXPECT_EQ(back, "* Zoë * *5");
  // The price of never copying them: values that differ only there share a token.
  EXPECT_EQ(Tokenize(t, PgType::kText, "😎 Zoë ☂ €5"), token);
}

TEST(TokenizerTest, InvalidUtf8HasNoToken) {
  Tokenizer t = MakeTokenizer();
  std::string out;
  for (const std::string_view bad : {"\xd0", "\xd0\x98\xd0", "\xed\xa0\x80", "\xc0\xaf", "Иван\xff",
                                     "\xf4\x90\x80\x80"}) {
    EXPECT_FALSE(t.Tokenize(PgType::kText, bad, out)) << bad;
    EXPECT_FALSE(t.Detokenize(PgType::kText, bad, out)) << bad;
  }
}

TEST(TokenizerTest, LongTextInWideAlphabetsRoundTrips) {
  Tokenizer t = MakeTokenizer();
  std::string value;
  for (uint32_t i = 0; i < 700; ++i) {
    AppendCodePoint(0x4E00 + i * 29 % 20992, value);  // CJK unified, two numerals each
    AppendCodePoint(0x3400 + i * 31 % 6592, value);   // CJK extension A
    AppendCodePoint(0xAC00 + i * 37 % 11172, value);  // Hangul syllables
    if (i % 5 == 0) AppendCodePoint(0x430 + i % 32, value);
  }
  const std::string token = Tokenize(t, PgType::kText, value);
  ASSERT_EQ(token.size(), value.size());
  EXPECT_NE(token, value);
  const std::vector<uint32_t> in = CodePoints(value);
  const std::vector<uint32_t> out = CodePoints(token);
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(KindOf(in[i]), KindOf(out[i])) << i;
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kText, token, back));
  EXPECT_EQ(back, value);
}

TEST(TokenizerTest, EveryLetterOfASmallAlphabetIsPermuted) {
  Tokenizer t = MakeTokenizer();
  std::set<std::string> tokens;
  for (uint32_t c = 0x430; c < 0x460; ++c) {
    std::string letter;
    AppendCodePoint(c, letter);
    tokens.insert(Tokenize(t, PgType::kText, letter));
  }
  EXPECT_EQ(tokens.size(), 48u);
  for (const std::string& token : tokens) EXPECT_EQ(KindOf(CodePoints(token)[0]), KindOf(0x430));
}

TEST(TokenizerTest, ThreeDigitIntegersArePermuted) {
  Tokenizer t = MakeTokenizer();
  std::set<std::string> tokens;
  for (int i = 100; i <= 999; ++i) {
    const std::string token = Tokenize(t, PgType::kInt4, absl::StrCat(i));
    ASSERT_EQ(token.size(), 3u);
    ASSERT_NE(token[0], '0');
    tokens.insert(token);
  }
  EXPECT_EQ(tokens.size(), 900u);
}

TEST(TokenizerTest, TinyDomainsArePermuted) {
  Tokenizer t = MakeTokenizer();
  std::set<std::string> digits, letters, negatives;
  for (char c = '0'; c <= '9'; ++c) digits.insert(Tokenize(t, PgType::kText, std::string(1, c)));
  for (char c = 'a'; c <= 'z'; ++c) letters.insert(Tokenize(t, PgType::kText, std::string(1, c)));
  for (char c = '1'; c <= '9'; ++c) negatives.insert(Tokenize(t, PgType::kInt2, absl::StrCat("-", std::string(1, c))));
  EXPECT_EQ(digits.size(), 10u);
  EXPECT_EQ(letters.size(), 26u);
  EXPECT_EQ(negatives.size(), 9u);
  EXPECT_EQ(negatives.count("-0"), 0u);
  for (const std::string& l : letters) EXPECT_TRUE(l.size() == 1 && std::islower(static_cast<unsigned char>(l[0])));
}

TEST(TokenizerTest, Int2TokensStayInRange) {
  Tokenizer t = MakeTokenizer();
  for (int i = 30000; i <= 32767; i += 7) {
    const std::string token = Tokenize(t, PgType::kInt2, absl::StrCat(i));
    const int value = std::stoi(token);
    EXPECT_GE(value, 10000);
    EXPECT_LE(value, 32767);
  }
}

TEST(TokenizerTest, RejectsWhatItCannotHaveProduced) {
  Tokenizer t = MakeTokenizer();
  std::string out;
  EXPECT_FALSE(t.Detokenize(PgType::kInt2, "99999", out));
  EXPECT_FALSE(t.Detokenize(PgType::kInt4, "0123", out));
  EXPECT_FALSE(t.Detokenize(PgType::kInt4, "-0", out));
  EXPECT_FALSE(t.Detokenize(PgType::kInt4, "", out));
  EXPECT_FALSE(t.Detokenize(PgType::kDate, "1987-13-01", out));
  EXPECT_FALSE(t.Detokenize(PgType::kUuid, "not-a-uuid", out));
  EXPECT_FALSE(t.Detokenize(PgType::kInet, "300.1.1.1", out));
  EXPECT_FALSE(t.Detokenize(PgType::kBool, "t", out));
  EXPECT_FALSE(t.Detokenize(PgType::kText, "\xff", out));
  EXPECT_FALSE(t.Detokenize(PgType::kTime, "24:00:00", out));
  EXPECT_FALSE(t.Detokenize(PgType::kFloat8, "1e999", out));
}

TEST(TokenizerTest, GarbageNeverCrashes) {
  Tokenizer t = MakeTokenizer();
  uint32_t state = 99;
  std::string value, out;
  for (int i = 0; i < 2000; ++i) {
    value.clear();
    const int len = static_cast<int>(state % 40);
    for (int j = 0; j < len; ++j) {
      state = state * 1103515245 + 12345;
      value.push_back("0123456789-.:+e aZ/\xff"[(state >> 16) % 21]);
    }
    for (PgType type : {PgType::kText, PgType::kInt2, PgType::kInt8, PgType::kNumeric,
                        PgType::kFloat4, PgType::kDate, PgType::kTimestamptz, PgType::kTime,
                        PgType::kUuid, PgType::kInet}) {
      if (t.Tokenize(type, value, out)) {
        std::string back;
        ASSERT_TRUE(t.Detokenize(type, out, back)) << PgTypeName(type) << " " << value;
        EXPECT_EQ(back, value) << PgTypeName(type);
      }
    }
  }
}

TEST(TokenizerTest, LongTextRoundTrips) {
  Tokenizer t = MakeTokenizer();
  std::string value;
  for (int i = 0; i < 5000; ++i) value.push_back(static_cast<char>(i % 3 == 0 ? '0' + i % 10 : 'a' + i % 26));
  const std::string token = Tokenize(t, PgType::kText, value);
  EXPECT_NE(token, value);
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kText, token, back));
  EXPECT_EQ(back, value);
}

}  // namespace
}  // namespace pgmask::policy
