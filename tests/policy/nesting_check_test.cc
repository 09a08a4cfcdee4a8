#include "policy/nesting_check.h"

#include <gtest/gtest.h>

#include <string>

#include "policy/analyzer.h"
#include "policy/sql_parse.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

std::string Chain(int n, const std::string& op) {
  std::string sql = "SELECT a";
  for (int i = 0; i < n; ++i) sql += op + "a";
  return sql;
}

std::string Parens(int n) { return "SELECT " + std::string(n, '(') + "1" + std::string(n, ')'); }

std::string Many(int n, const std::string& item, const std::string& sep) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? sep : "") + item;
  return out;
}

TEST(NestingCheck, RefusesDeepStatementsBeforeTheParserRecursesIntoThem) {
  EXPECT_FALSE(CheckNesting(Chain(100000, "||")).ok());
  EXPECT_FALSE(CheckNesting(Chain(kMaxExpressionDepth + 1, "+")).ok());
  EXPECT_FALSE(CheckNesting(Parens(5000)).ok());
  EXPECT_FALSE(CheckNesting("SELECT " + Many(2000, "CASE WHEN x THEN", " ") + " 1" + Many(2000, " END", "")).ok());
  EXPECT_FALSE(CheckNesting(std::string(kMaxAnalysedSqlBytes + 1, ' ')).ok());
  // The parser is never reached with them: no crash, an error.
  EXPECT_FALSE(ParsedSql::Parse(Chain(1000000, "||")).ok());
  EXPECT_FALSE(ParsedSql::Parse(Parens(1000000)).ok());
}

std::string Unions(int n) { return "SELECT 1" + Many(n, " UNION SELECT 1", ""); }

std::string Joins(int n) {
  std::string sql = "SELECT 1 FROM patients p0";
  for (int i = 1; i <= n; ++i) sql += " CROSS JOIN patients p" + std::to_string(i);
  return sql;
}

// Each UNION or JOIN nests the ones before it: 10,000 UNIONs or 5,000 JOINs overflowed the stack
// in protobuf-c's unpacking of the parse tree, with no operator or bracket to count.
TEST(NestingCheck, RefusesLongChainsOfSetOperationsAndJoins) {
  for (const std::string& sql : {Unions(10000), Joins(5000), Unions(kMaxExpressionDepth + 1),
                                 Joins(kMaxExpressionDepth + 1), "SELECT 1 FROM t" + Many(600, " EXCEPT SELECT 1", "") +
                                                                      Many(500, " INTERSECT SELECT 1", "")}) {
    const absl::Status check = CheckNesting(sql);
    EXPECT_EQ(check.message(), "statement nested too deeply to analyse") << sql.substr(0, 60);
    const auto parsed = ParsedSql::Parse(sql);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().message(), "statement nested too deeply to analyse");
  }
  // The deepest branch's own expressions nest inside the chain.
  EXPECT_FALSE(CheckNesting(Unions(600) + " WHERE 1 = 1" + Many(500, " + 1", "")).ok());
}

TEST(NestingCheck, ParsesChainsJustUnderTheLimit) {
  const auto policy = testing::TestPolicy();
  ASSERT_NE(policy, nullptr);
  const CatalogView catalog(testing::TestCatalogData());
  for (const std::string& sql : {Unions(kMaxExpressionDepth), Joins(kMaxExpressionDepth)}) {
    const auto parsed = ParsedSql::Parse(sql);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    // The analysis stops descending at its own depth limit instead of recursing to the end.
    EXPECT_EQ(AnalyzeStatements(*parsed, *policy, catalog).size(), 1u);
  }
  // Statements of one text, and parenthesized branches, start their own chains.
  EXPECT_TRUE(CheckNesting(Many(3, Unions(800), "; ")).ok());
  EXPECT_TRUE(CheckNesting("SELECT 1 FROM t WHERE a IN (" + Unions(800) + ") AND b IN (" + Unions(800) + ")").ok());
}

TEST(NestingCheck, KeepsWideButShallowStatements) {
  EXPECT_TRUE(CheckNesting(Chain(kMaxExpressionDepth, "+")).ok());
  EXPECT_TRUE(CheckNesting("SELECT * FROM t WHERE id IN (" + Many(50000, "1", ", ") + ")").ok());
  EXPECT_TRUE(CheckNesting("SELECT " + Many(5000, "a + b", ", ")).ok());
  EXPECT_TRUE(CheckNesting("SELECT 1 FROM t WHERE " + Many(5000, "a = 1", " OR ")).ok());
  EXPECT_TRUE(CheckNesting("SELECT x FROM t WHERE a = 1 AND (b = 2 OR c = 3); SELECT 2").ok());
  EXPECT_TRUE(ParsedSql::Parse("SELECT * FROM t WHERE id IN (" + Many(50000, "1", ", ") + ")").ok());
  EXPECT_TRUE(CheckNesting("SELEC garbage ((").ok());  // the parser reports syntax itself
}

}  // namespace
}  // namespace pgmask::policy
