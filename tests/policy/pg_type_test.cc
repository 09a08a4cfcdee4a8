#include "policy/pg_type.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace pgmask::policy {
namespace {

struct FitCase {
  std::string name;
  uint32_t oid;
  int32_t typmod;
  std::string in;
  std::string want;
};

const FitCase kFitCases[] = {
    {"TextUnbounded", type_oid::kText, -1, std::string(100, 'x'), std::string(100, 'x')},
    {"VarcharTruncates", type_oid::kVarchar, 3 + 4, "abcdef", "abc"},
    {"VarcharCountsCodePoints", type_oid::kVarchar, 2 + 4, "日本語", "日本"},
    {"VarcharShortKept", type_oid::kVarchar, 10 + 4, "abc", "abc"},
    {"BpcharPads", type_oid::kBpchar, 5 + 4, "ab", "ab   "},
    {"BpcharPadsCodePoints", type_oid::kBpchar, 3 + 4, "ë", "ë  "},
    {"BpcharTruncates", type_oid::kBpchar, 2 + 4, "abc", "ab"},
    {"NameTruncatesBytes", type_oid::kName, -1, std::string(62, 'a') + "日", std::string(62, 'a')},
};

class FitTest : public testing::TestWithParam<FitCase> {};

TEST_P(FitTest, Fits) {
  const FitCase& c = GetParam();
  std::string out = c.in;
  FitTextValue(PgTypeFromOid(c.oid), c.typmod, out);
  EXPECT_EQ(out, c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, FitTest, testing::ValuesIn(kFitCases),
                         [](const testing::TestParamInfo<FitCase>& info) { return info.param.name; });

TEST(PgTypeTest, NamesAndOids) {
  EXPECT_EQ(ColumnTypeFromName("integer")->oid, type_oid::kInt4);
  EXPECT_EQ(ColumnTypeFromName(" Timestamp With Time Zone ")->oid, type_oid::kTimestamptz);
  EXPECT_EQ(ColumnTypeFromName("1043")->oid, type_oid::kVarchar);
  EXPECT_FALSE(ColumnTypeFromName("17").has_value());
  EXPECT_FALSE(ColumnTypeFromName("hstore").has_value());
  EXPECT_EQ(PgTypeFromOid(17), PgType::kOther);
  EXPECT_EQ(PgTypeName(PgType::kJsonb), "jsonb");
}

TEST(PgTypeTest, NumericTypmod) {
  EXPECT_EQ(NumericIntegerDigits(((10 << 16) | 2) + 4), 8);
  EXPECT_EQ(NumericIntegerDigits(((3 << 16) | 0x7FE) + 4), 5);  // numeric(3, -2)
  EXPECT_FALSE(NumericIntegerDigits(-1).has_value());
}

TEST(PgTypeTest, JsonStrings) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01", out);
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

// The escaping as JSON defines it, one character at a time, to compare the run-wise version with.
std::string ReferenceJsonString(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

TEST(PgTypeTest, JsonStringsEscapeAtEitherEndAndAppend) {
  std::string out = "x";
  AppendJsonString("", out);
  AppendJsonString("\"plain\x7f\xc3\xa9\\", out);
  AppendJsonString("\x1f", out);
  EXPECT_EQ(out, "x\"\"\"\\\"plain\x7f\xc3\xa9\\\\\"\"\\u001f\"");
}

TEST(PgTypeTest, JsonStringsMatchTheCharacterWiseEscaping) {
  std::mt19937 rng(7);
  // Mostly plain text with the characters that need escaping mixed in.
  const std::string alphabet = std::string("ab \"\\\n\r\t\x01\x1f\x7f\x80\xff\0", 14) + "xyz";
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    std::string out;
    AppendJsonString(text, out);
    ASSERT_EQ(out, ReferenceJsonString(text)) << i;
  }
}

}  // namespace
}  // namespace pgmask::policy
