#include "proxy/audit_statement_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgmask::proxy {
namespace {

struct Case {
  std::string name;
  std::string sql;
  std::vector<std::string> queries;  // one per statement
};

class AuditStatementTextTest : public ::testing::TestWithParam<Case> {};

TEST_P(AuditStatementTextTest, NoConstantOrCommentSurvives) {
  const Case& c = GetParam();
  std::vector<std::string> queries;
  for (const AuditStatementText& t : AuditStatementTexts(c.sql)) queries.push_back(t.query);
  EXPECT_EQ(queries, c.queries);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AuditStatementTextTest,
    ::testing::Values(
        Case{"numbers_and_strings", "SELECT ssn FROM patients WHERE id = 42 AND name = 'Ann'",
             {"SELECT ssn FROM patients WHERE id = $1 AND name = $2"}},
        Case{"comments", "SELECT /* 123-45-6789 */ ssn -- secret\nFROM patients",
             {"SELECT ssn FROM patients"}},
        Case{"nested_comment", "SELECT 1 /* a /* b */ c */ + 2", {"SELECT $1 + $2"}},
        Case{"client_parameters_keep_their_numbers", "SELECT $2, 'x', $1", {"SELECT $2, $3, $1"}},
        Case{"escape_unicode_dollar_bit_hex_strings",
             "SELECT E'a\\'b', U&'d\\0061t', $$x$$, $tag$y$tag$, B'0101', X'1F', 1.5e3",
             {"SELECT $1, $2, $3, $4, $5, $6, $7"}},
        Case{"typed_literal", "SELECT DATE '1931-11-23'", {"SELECT DATE $1"}},
        Case{"utility_option", "SET application_name = 'Zq'", {"SET application_name = $1"}},
        Case{"whitespace_collapsed", "SELECT\n\t a ,b\r\nFROM  t ;", {"SELECT a ,b FROM t"}},
        Case{"several_statements", "SELECT 1; SELECT ssn FROM p WHERE x = 'y';",
             {"SELECT $1", "SELECT ssn FROM p WHERE x = $1"}},
        Case{"does_not_parse_still_scanned", "SELEKT 'secret' FROM", {"SELEKT $1 FROM"}},
        Case{"unterminated_string", "SELECT 'secret", {}},
        Case{"unicode_identifier_kept_whole", "SELECT U&\"\\0073sn\" FROM p WHERE U&\"a\"\"b\" = 'x'",
             {"SELECT U&\"\\0073sn\" FROM p WHERE U&\"a\"\"b\" = $1"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(AuditStatementText, WithoutAParseNoTextIsRecorded) {
  // A bare word could be a name or an e-mail address.
  const AuditTextOptions unparsed{.parsed = false};
  EXPECT_TRUE(AuditStatementTexts("SELECT ssn FROM p WHERE name = Zebulon Quaxwright", unparsed).empty());
  EXPECT_EQ(AuditQueryText("SELECT ssn FROM p WHERE name = Zebulon Quaxwright", unparsed), "");
}

struct QuotingCase {
  std::string name;
  std::string sql;
  std::string query;
};

class WithoutStandardStringsTest : public ::testing::TestWithParam<QuotingCase> {};

TEST_P(WithoutStandardStringsTest, ReadsStringsAsTheServerDoes) {
  const QuotingCase& c = GetParam();
  const AuditTextOptions off{.standard_strings = false};
  const std::vector<AuditStatementText> texts = AuditStatementTexts(c.sql, off);
  std::vector<std::string> queries;
  for (const AuditStatementText& t : texts) queries.push_back(t.query);
  // A text that does not end where the server would read it is not recorded at all.
  EXPECT_EQ(queries, c.query.empty() ? std::vector<std::string>{} : std::vector<std::string>{c.query});
  EXPECT_EQ(AuditQueryText(c.sql, off), c.query);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WithoutStandardStringsTest,
    ::testing::Values(
        QuotingCase{"escaped_quote", R"(SELECT id FROM p WHERE email = substr('\'zq@x.test\'', 2, 9))",
                    "SELECT id FROM p WHERE email = substr($1, $2, $3)"},
        QuotingCase{"escaped_backslash_then_quote", R"(SELECT 'a\\', 'zq@x.test')", "SELECT $1, $2"},
        QuotingCase{"national_and_escape_strings", R"(SELECT N'\'zq', E'\'zq2')", "SELECT $1, $2"},
        QuotingCase{"continuation", "SELECT '\\'zq'\n'more\\''", "SELECT $1"},
        QuotingCase{"bit_and_hex_strings_have_no_escapes", R"(SELECT B'01', X'1F\')", "SELECT $1, $2"},
        QuotingCase{"quotes_in_identifiers_comments_and_dollar_quotes",
                    R"(SELECT "a'b", $t$ \' $t$ /* ' */ FROM p -- '
WHERE x = $1)",
                    R"(SELECT "a'b", $2 FROM p WHERE x = $1)"},
        QuotingCase{"unterminated_is_not_recorded", R"(SELECT 'zq\')", ""},
        QuotingCase{"no_parse_as_the_server_reads_it_is_not_recorded", R"(SELECT 'a\'' FROM WHERE zq)", ""}),
    [](const ::testing::TestParamInfo<QuotingCase>& info) { return info.param.name; });

TEST(AuditStatementText, FingerprintIgnoresConstantsAndComments) {
  const std::vector<AuditStatementText> a = AuditStatementTexts("SELECT ssn FROM patients WHERE id = 1");
  const std::vector<AuditStatementText> b = AuditStatementTexts("SELECT ssn /* c */ FROM patients WHERE id = 2");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FALSE(a[0].fingerprint.empty());
  EXPECT_EQ(a[0].fingerprint, b[0].fingerprint);
  EXPECT_NE(a[0].fingerprint, AuditStatementTexts("SELECT email FROM patients WHERE id = 1")[0].fingerprint);
}

TEST(AuditStatementText, NoFingerprintWithoutAParse) {
  const std::vector<AuditStatementText> t = AuditStatementTexts("SELEKT 1");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].fingerprint, "");
}

TEST(AuditStatementText, DeepNestingIsNotParsed) {
  const std::string deep = "SELECT " + std::string(5000, '(') + "1" + std::string(5000, ')');
  const std::vector<AuditStatementText> t = AuditStatementTexts(deep);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].fingerprint, "");
  EXPECT_EQ(t[0].query.find("(1)"), std::string::npos);
  EXPECT_NE(t[0].query.find("($1)"), std::string::npos);
}

}  // namespace
}  // namespace pgmask::proxy
