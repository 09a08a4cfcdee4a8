#include "policy/nesting_check.h"

#include <gtest/gtest.h>

#include <string>

#include "policy/sql_parse.h"

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
