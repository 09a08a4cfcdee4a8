#include "policy/mask_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace pgmask::policy {
namespace {

struct SpecCase {
  std::string name;
  std::string text;
  std::string canonical;  // empty: an error is expected, `error` holds it
  std::string error;
};

const SpecCase kCases[] = {
    {"Redact", "redact", "redact('***')", ""},
    {"RedactEmptyParens", "redact()", "redact('***')", ""},
    {"RedactText", "redact('[x]')", "redact('[x]')", ""},
    {"RedactQuote", "redact('it''s')", "redact('it''s')", ""},
    {"Null", "null", "null", ""},
    {"Email", " email ", "email", ""},
    {"Tokenize", "tokenize", "tokenize", ""},
    {"Partial", "partial(0, 'XXX-XX-', 4)", "partial(0, 'XXX-XX-', 4)", ""},
    {"PartialNoSpaces", "partial(1,'*',1)", "partial(1, '*', 1)", ""},
    {"Hash", "hash", "hash(16)", ""},
    {"HashN", "hash(8)", "hash(8)", ""},
    {"GeneralizeYear", "generalize(year)", "generalize(year)", ""},
    {"GeneralizeDecade", "generalize(decade)", "generalize(decade)", ""},
    {"GeneralizeN", "generalize(10)", "generalize(10)", ""},
    {"Unknown", "shred", "", "unknown mask function 'shred' (expected redact, null, partial, email, hash, tokenize or generalize)"},
    {"Empty", "", "", "empty mask function"},
    {"PartialTooFew", "partial(0, 4)", "", "partial takes 3 arguments, not 2"},
    {"PartialWrongType", "partial('0', '*', 4)", "", "partial: argument 1 must be an integer, not a string"},
    {"PartialPadNotString", "partial(0, x, 4)", "", "partial: argument 2 must be a string, not a word"},
    {"PartialNegative", "partial(-1, '*', 4)", "", "partial: prefix and suffix must be between 0 and 1000"},
    {"HashZero", "hash(0)", "", "hash: length must be between 1 and 64"},
    {"HashTwoArgs", "hash(1, 2)", "", "hash takes 0 or 1 arguments, not 2"},
    {"NullWithArg", "null(1)", "", "null takes 0 arguments, not 1"},
    {"RedactInt", "redact(3)", "", "redact: argument 1 must be a string, not an integer"},
    {"GeneralizeNothing", "generalize", "", "generalize takes 1 argument, not 0"},
    {"GeneralizeZero", "generalize(0)", "", "generalize: bucket width must be between 1 and 1000000000000000000"},
    {"GeneralizeWeek", "generalize(week)", "", "generalize: unknown period 'week' (expected year, month or decade)"},
    {"GeneralizeString", "generalize('year')", "", "generalize: argument 1 must be year, month, decade or an integer, not a string"},
    {"Unterminated", "redact('abc", "", "unterminated string argument"},
    {"MissingClose", "hash(8", "", "hash: expected ',' or ')' after argument 1"},
    {"Trailing", "hash(8) x", "", "unexpected text after mask function 'hash'"},
    {"BadInteger", "hash(99999999999999999999)", "", "bad integer '99999999999999999999'"},
    {"Garbage", "%%%", "", "empty mask function"},
    {"Symbol", "hash(#)", "", "unexpected '#'"},
    {"InvalidUtf8Pad", "partial(0, '\xff', 0)", "", "partial: string argument is not valid UTF-8"},
    {"HugePad", "redact('" + std::string(1001, 'x') + "')", "", "redact: string argument is longer than 1000 bytes"},
};

class MaskSpecTest : public testing::TestWithParam<SpecCase> {};

TEST_P(MaskSpecTest, Parses) {
  const SpecCase& c = GetParam();
  absl::StatusOr<MaskSpec> spec = ParseMaskSpec(c.text);
  if (c.canonical.empty()) {
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().message(), c.error);
    return;
  }
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->ToString(), c.canonical);
  EXPECT_EQ(*ParseMaskSpec(spec->ToString()), *spec);  // the canonical form round-trips
}

INSTANTIATE_TEST_SUITE_P(Cases, MaskSpecTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<SpecCase>& info) { return info.param.name; });

}  // namespace
}  // namespace pgmask::policy
