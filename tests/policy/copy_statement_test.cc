#include "policy/copy_statement.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "analysis_fixture.h"

namespace pgmask::policy {
namespace {

absl::StatusOr<std::optional<CopyToClient>> Find(const std::string& sql, const CatalogView* catalog = nullptr) {
  auto parsed = ParsedSql::Parse(sql);
  if (!parsed.ok()) return parsed.status();
  return FindCopyToClient(*parsed, catalog);
}

// public.readings (id, twice GENERATED, "Secret", tail) and the test catalog's other tables.
CatalogView CatalogWithGeneratedColumn() {
  CatalogData data = testing::TestCatalogData();
  CatalogRelation readings = testing::Table("public", "readings", {"id", "twice", "Secret", "tail"});
  readings.columns[1].generated = true;
  data.relations.push_back(std::move(readings));
  return CatalogView(std::move(data));
}

TEST(CopyStatement, OnlyCopyToTheClientIsFound) {
  for (const char* sql : {"SELECT 1", "COPY patients FROM STDIN", "COPY patients TO '/tmp/p.csv'",
                          "COPY patients TO PROGRAM 'cat'"}) {
    auto copy = Find(sql);
    ASSERT_TRUE(copy.ok()) << sql << ": " << copy.status();
    EXPECT_FALSE(copy->has_value()) << sql;
  }
}

TEST(CopyStatement, ATableAndColumnListIsDescribedAsASelect) {
  auto copy = Find("COPY public.patients (ssn, \"Email\") TO STDOUT");
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ((*copy)->describe_sql, "SELECT ssn, \"Email\" FROM public.patients");
  EXPECT_EQ((*copy)->format, "text");
}

// COPY leaves generated columns out unless they are listed; `SELECT *` would not, and every field
// after one would be masked as the column before it.
TEST(CopyStatement, ATableWithGeneratedColumnsIsDescribedByItsStoredColumns) {
  const CatalogView catalog = CatalogWithGeneratedColumn();
  const std::pair<std::string, std::string> cases[] = {
      {"COPY readings TO STDOUT", "SELECT id, \"Secret\", tail FROM readings"},
      {"COPY public.readings TO STDOUT WITH (FORMAT csv)", "SELECT id, \"Secret\", tail FROM public.readings"},
      // Listed, a generated column is sent like any other.
      {"COPY readings (id, twice) TO STDOUT", "SELECT id, twice FROM readings"},
      // Without generated columns, or not in the catalog, `*` describes what COPY sends.
      {"COPY patients TO STDOUT", "SELECT * FROM patients"},
      {"COPY nowhere TO STDOUT", "SELECT * FROM nowhere"},
  };
  for (const auto& [sql, describe] : cases) {
    auto copy = Find(sql, &catalog);
    ASSERT_TRUE(copy.ok()) << sql << ": " << copy.status();
    ASSERT_TRUE(copy->has_value()) << sql;
    EXPECT_EQ((*copy)->describe_sql, describe) << sql;
  }
}

TEST(CopyStatement, AQueryIsDescribedByItsOwnText) {
  auto copy = Find("COPY (SELECT ssn FROM patients WHERE id = 1) TO STDOUT");
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ((*copy)->describe_sql, "SELECT ssn FROM patients WHERE id = 1");
}

TEST(CopyStatement, OptionsThatShapeTheDataAreRead) {
  auto copy = Find("COPY patients TO STDOUT WITH (FORMAT csv, DELIMITER '|', NULL 'none', QUOTE '@', "
                   "ESCAPE '!', HEADER true)");
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(copy->has_value());
  const CopyToClient& c = **copy;
  EXPECT_EQ(c.format, "csv");
  EXPECT_EQ(c.delimiter, "|");
  EXPECT_EQ(c.null_string, "none");
  EXPECT_EQ(c.quote, "@");
  EXPECT_EQ(c.escape, "!");
  EXPECT_TRUE(c.header);
}

TEST(CopyStatement, TheOldOptionSyntaxIsReadToo) {
  auto copy = Find("COPY patients TO STDOUT WITH CSV HEADER DELIMITER AS '|'");
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(copy->has_value());
  EXPECT_EQ((*copy)->format, "csv");
  EXPECT_EQ((*copy)->delimiter, "|");
  EXPECT_TRUE((*copy)->header);
}

// FORCE_QUOTE decides how pgmask quotes the fields it masks (never the server's quoting of the
// clear values), so it is read in both syntaxes.
TEST(CopyStatement, ForceQuoteIsRead) {
  struct Case {
    const char* sql;
    bool all;
    std::vector<std::string> columns;
  };
  const Case cases[] = {
      {"COPY patients TO STDOUT WITH (FORMAT csv)", false, {}},
      {"COPY patients TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)", true, {}},
      {"COPY patients TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (ssn, \"Email\"))", false, {"ssn", "Email"}},
      {"COPY (SELECT ssn AS S FROM patients) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE (S))", false, {"s"}},
      {"COPY patients TO STDOUT CSV FORCE QUOTE *", true, {}},
      {"COPY patients TO STDOUT CSV FORCE QUOTE ssn, name", false, {"ssn", "name"}},
  };
  for (const Case& c : cases) {
    auto copy = Find(c.sql);
    ASSERT_TRUE(copy.ok()) << c.sql << ": " << copy.status();
    ASSERT_TRUE(copy->has_value()) << c.sql;
    EXPECT_EQ((*copy)->force_quote_all, c.all) << c.sql;
    EXPECT_EQ((*copy)->force_quote, c.columns) << c.sql;
  }
}

TEST(CopyStatement, ACopyAmongOtherStatementsIsAnError) {
  auto copy = Find("SELECT 1; COPY patients TO STDOUT");
  EXPECT_FALSE(copy.ok());
}

// In SJIS and similar encodings a multibyte character can end in a delimiter, quote or backslash
// byte; the codecs read UTF-8, so such data would shift the fields (a protected value would be
// taken for an unprotected one).
TEST(CopyStatement, AnEncodingOtherThanUtf8IsRefused) {
  for (const char* sql : {"COPY patients TO STDOUT WITH (ENCODING 'SJIS')",
                          "COPY patients TO STDOUT WITH (FORMAT csv, ENCODING 'big5')",
                          "COPY patients TO STDOUT WITH (ENCODING sjis)",
                          "COPY patients TO STDOUT WITH (FORMAT binary, ENCODING 'LATIN1')",
                          "COPY (SELECT ssn FROM patients) TO STDOUT ENCODING 'GBK'",
                          "COPY patients TO STDOUT WITH (ENCODING 'UTF-16')"}) {
    auto copy = Find(sql);
    ASSERT_FALSE(copy.ok()) << sql;
    EXPECT_EQ(copy.status().code(), absl::StatusCode::kInvalidArgument) << sql;
    EXPECT_NE(copy.status().message().find("ENCODING other than UTF8"), std::string_view::npos)
        << copy.status();
  }
}

TEST(CopyStatement, Utf8SpelledAsPostgresAcceptsItIsAllowed) {
  for (const char* sql : {"COPY patients TO STDOUT WITH (ENCODING 'UTF8')",
                          "COPY patients TO STDOUT WITH (ENCODING 'utf-8')",
                          "COPY patients TO STDOUT WITH (ENCODING 'Utf_8')",
                          "COPY patients TO STDOUT WITH (ENCODING 'unicode')"}) {
    auto copy = Find(sql);
    ASSERT_TRUE(copy.ok()) << sql << ": " << copy.status();
    EXPECT_TRUE(copy->has_value()) << sql;
  }
}

}  // namespace
}  // namespace pgmask::policy
