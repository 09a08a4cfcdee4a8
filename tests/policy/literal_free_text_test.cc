#include "policy/literal_free_text.h"

#include <gtest/gtest.h>

#include <string>

#include "policy/nesting_check.h"

namespace pgmask::policy {
namespace {

TEST(LiteralFreeTextTest, ConstantsOfAnyKindBecomeParameters) {
  const auto a = LiteralFreeText("SELECT name FROM patients WHERE id = 42 AND note = 'x'");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, LiteralFreeText("SELECT name FROM patients WHERE id = -7 AND note = E'a\\'b'"));
  EXPECT_EQ(*a, LiteralFreeText("SELECT name FROM patients WHERE id = 1.5e3 AND note = NULL"));
  EXPECT_EQ(a->find("42"), std::string::npos);
  EXPECT_NE(*a, LiteralFreeText("SELECT name FROM patients WHERE id = 42 OR note = 'x'"));
  EXPECT_NE(*a, LiteralFreeText("SELECT ssn FROM patients WHERE id = 42 AND note = 'x'"));
}

TEST(LiteralFreeTextTest, TextWithADollarSignHasNone) {
  EXPECT_FALSE(LiteralFreeText("SELECT $1, 5").has_value());
  EXPECT_FALSE(LiteralFreeText("SELECT $$x$$").has_value());
  EXPECT_FALSE(LiteralFreeText("SELECT a$b FROM t").has_value());
}

TEST(LiteralFreeTextTest, GarbageTruncatedAndEmptyTextHaveNone) {
  EXPECT_FALSE(LiteralFreeText("SELEC name FROM").has_value());
  EXPECT_FALSE(LiteralFreeText("SELECT 'unterminated").has_value());
  EXPECT_FALSE(LiteralFreeText(std::string("SELECT \x01\xff\xfe", 10)).has_value());
}

TEST(LiteralFreeTextTest, DeepNestingIsRefusedBeforeNormalizing) {
  std::string deep = "SELECT ";
  for (int i = 0; i < 3 * kMaxExpressionDepth; ++i) deep += "+-";
  deep += "1";
  EXPECT_FALSE(LiteralFreeText(deep).has_value());
  std::string shallow_but_long = "SELECT 1";
  while (shallow_but_long.size() < 4 * kMaxExpressionDepth) shallow_but_long += ", 1";
  EXPECT_TRUE(LiteralFreeText(shallow_but_long).has_value());
}

}  // namespace
}  // namespace pgmask::policy
