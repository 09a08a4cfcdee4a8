#include "policy/tokenizer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
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
};

class TokenShapeTest : public testing::TestWithParam<ShapeCase> {};

TEST_P(TokenShapeTest, KeepsClassesCaseAndSeparators) {
  Tokenizer t = MakeTokenizer();
  const std::string& in = GetParam().value;
  const std::string token = Tokenize(t, PgType::kText, in);
  ASSERT_EQ(token.size(), in.size());
  EXPECT_NE(token, in);
  for (size_t i = 0; i < in.size(); ++i) {
    const auto a = static_cast<unsigned char>(in[i]);
    const auto b = static_cast<unsigned char>(token[i]);
    if (std::isdigit(a)) {
      EXPECT_TRUE(std::isdigit(b)) << i;
    } else if (std::islower(a)) {
      EXPECT_TRUE(std::islower(b)) << i;
    } else if (std::isupper(a)) {
      EXPECT_TRUE(std::isupper(b)) << i;
    } else {
      EXPECT_EQ(a, b) << i;
    }
  }
  std::string back;
  ASSERT_TRUE(t.Detokenize(PgType::kText, token, back));
  EXPECT_EQ(back, in);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TokenShapeTest, testing::ValuesIn(kShapes),
                         [](const testing::TestParamInfo<ShapeCase>& info) { return info.param.name; });

TEST(TokenizerTest, SameValueSameTokenAcrossInstancesAndTextTypes) {
  Tokenizer a = MakeTokenizer();
  Tokenizer b = MakeTokenizer();
  const std::string token = Tokenize(a, PgType::kText, "123-45-6789");
  EXPECT_EQ(Tokenize(b, PgType::kText, "123-45-6789"), token);
  EXPECT_EQ(Tokenize(b, PgType::kVarchar, "123-45-6789"), token);
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
