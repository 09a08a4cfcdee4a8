#include "policy/identifier.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace pgmask::policy {
namespace {

struct NameCase {
  std::string name;
  std::string text;
  std::optional<std::string> schema;  // nullopt: an error is expected
  std::string table;
};

const NameCase kCases[] = {
    {"Qualified", "public.patients", "public", "patients"},
    {"Unqualified", "patients", "public", "patients"},
    {"QuotedParts", R"("My Schema"."Patients")", "My Schema", "Patients"},
    {"QuotedDot", R"("a.b".c)", "a.b", "c"},
    {"DoubledQuote", R"(s."say ""hi""")", "s", R"(say "hi")"},
    {"Dollar", "s.t$1", "s", "t$1"},
    {"NonAscii", "s.tablé", "s", "tablé"},
    {"Underscore", "_s._t", "_s", "_t"},
    {"UpperCase", "public.Patients", std::nullopt, ""},
    {"ThreeParts", "a.b.c", std::nullopt, ""},
    {"EmptyPart", ".t", std::nullopt, ""},
    {"Empty", "", std::nullopt, ""},
    {"LeadingDigit", "s.1t", std::nullopt, ""},
    {"Space", "s.a b", std::nullopt, ""},
    {"UnterminatedQuote", R"("abc.t)", std::nullopt, ""},
    {"LoneQuoteInside", R"(s."a"b")", std::nullopt, ""},
    {"EmptyQuoted", R"(s."")", std::nullopt, ""},
    {"TooLong", "s." + std::string(64, 'a'), std::nullopt, ""},
    {"LongestAllowed", "s." + std::string(63, 'a'), "s", std::string(63, 'a')},
    {"InvalidUtf8", "s.\xff", std::nullopt, ""},
};

class QualifiedNameTest : public testing::TestWithParam<NameCase> {};

TEST_P(QualifiedNameTest, Parses) {
  const NameCase& c = GetParam();
  absl::StatusOr<QualifiedName> parsed = ParseQualifiedName(c.text);
  if (!c.schema) {
    EXPECT_FALSE(parsed.ok());
    return;
  }
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->schema, *c.schema);
  EXPECT_EQ(parsed->name, c.table);
}

INSTANTIATE_TEST_SUITE_P(Cases, QualifiedNameTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<NameCase>& info) { return info.param.name; });

TEST(IdentifierTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(QuoteIdentifierIfNeeded("patients"), "patients");
  EXPECT_EQ(EscapeStringLiteral(R"(it's a\b)"), R"(E'it''s a\\b')");
  EXPECT_EQ(QuoteIdentifierIfNeeded("Patients"), R"("Patients")");
  EXPECT_EQ(QuoteIdentifierIfNeeded(R"(a"b)"), R"("a""b")");
  EXPECT_EQ(*ParseIdentifier(QuoteIdentifierIfNeeded("Ops-Team")), "Ops-Team");
}

TEST(IdentifierTest, FunctionNames) {
  EXPECT_EQ(ParseFunctionName("lower")->schema, "");
  EXPECT_EQ(ParseFunctionName("pg_catalog.lower")->schema, "pg_catalog");
  EXPECT_FALSE(ParseFunctionName("a.b.c").ok());
}

}  // namespace
}  // namespace pgmask::policy
