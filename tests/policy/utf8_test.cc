#include "policy/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace pgmask::policy {
namespace {

struct Utf8Case {
  std::string name;
  std::string text;
  bool valid;
  size_t code_points;  // when valid
};

const Utf8Case kCases[] = {
    {"Empty", "", true, 0},
    {"Ascii", "abc", true, 3},
    {"TwoByte", "Zoë", true, 3},
    {"ThreeByte", "日本語", true, 3},
    {"FourByte", "😀x", true, 2},
    {"LoneContinuation", "\x80", false, 0},
    {"OverlongSlash", "\xc0\xaf", false, 0},
    {"OverlongThreeByte", "\xe0\x80\xaf", false, 0},
    {"Surrogate", "\xed\xa0\x80", false, 0},
    {"PastMax", "\xf4\x90\x80\x80", false, 0},
    {"TruncatedThreeByte", "\xe6\x97", false, 0},
    {"TruncatedAtEnd", "ab\xf0\x9f\x98", false, 0},
    {"Ff", "\xff", false, 0},
};

class Utf8Test : public testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Test, Validates) {
  const Utf8Case& c = GetParam();
  EXPECT_EQ(IsValidUtf8(c.text), c.valid);
  if (c.valid) {
    EXPECT_EQ(CodePointCount(c.text), c.code_points);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Utf8Test, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Utf8Case>& info) { return info.param.name; });

TEST(Utf8Test, OffsetsAndTruncation) {
  EXPECT_EQ(CodePointOffset("Zoë!", 3), 4u);
  EXPECT_EQ(CodePointOffset("Zoë", 5), 4u);
  EXPECT_EQ(TruncateToBytes("日本語", 4), "日");
  EXPECT_EQ(TruncateToBytes("日本語", 6), "日本");
  EXPECT_EQ(TruncateToBytes("日本語", 2), "");
  EXPECT_EQ(TruncateToBytes("abc", 10), "abc");
}

TEST(Utf8Test, CodePointsRoundTrip) {
  const std::string text = "aé€😀\x7f\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf";
  const uint32_t expected[] = {0x61, 0xE9, 0x20AC, 0x1F600, 0x7F, 0x80, 0xFFFF, 0x10FFFF};
  std::string again;
  size_t pos = 0;
  for (const uint32_t code_point : expected) {
    ASSERT_LT(pos, text.size());
    EXPECT_EQ(NextCodePoint(text, pos), code_point);
    AppendCodePoint(code_point, again);
  }
  EXPECT_EQ(pos, text.size());
  EXPECT_EQ(again, text);
}

}  // namespace
}  // namespace pgmask::policy
