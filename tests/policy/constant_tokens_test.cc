#include "policy/constant_tokens.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/policy/analysis_fixture.h"
#include "tests/policy/constant_substitution.h"

namespace pgmask::policy {
namespace {

std::optional<std::string> Key(std::string_view sql) {
  std::string key = "prefix";
  if (!AppendConstantBlindKey(sql, key)) {
    EXPECT_EQ(key, "prefix") << "a refused text leaves the key as it was";
    return std::nullopt;
  }
  return key.substr(6);
}

using testing::AnalysedAlike;
using testing::WithOtherConstants;

const std::vector<std::string> kAccepted = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 4211;",
    "UPDATE pgbench_accounts SET abalance = abalance + -3507 WHERE aid = 94841;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (5, 1, 7, 12, CURRENT_TIMESTAMP);",
    "SELECT ssn FROM patients WHERE name = 'O''Brien' AND id IN (1, 2.5, .5, 6., 1e10, 2.5E-3)",
    "SELECT \"weird \"\"name\"\"\" FROM \"Patients\" p WHERE p.id=1",
    "SELECT t.c, s.\"d\" FROM t, s WHERE t.x::int > 5 ORDER BY t.c LIMIT 10 OFFSET 20",
    "SELECT a[1], b <@ '{1,2}' FROM t WHERE c @> '{3}' AND d ~* 'x' AND e !~ 'y' AND f % 2 = 0",
    "SELECT 'a'||'b', 'c' , 'd' FROM t",
    "SELECT x FROM t WHERE y = 'multi\nline' AND z <> 1\n\tAND w >= 2",
    "SELECT x::float(53), y::numeric(10, 2), z::varchar(3) FROM t FETCH FIRST 5 ROWS ONLY",
    "SELECT ssn FROM patients p JOIN visits v ON v.patient_id = p.id WHERE p.id = 3 AND v.note LIKE 'a%'",
    "INSERT INTO patients (id, ssn) VALUES (1, 'x'), (2, 'y') RETURNING id",
    "UPDATE patients SET email = 'e' WHERE id = 7",
    "SELECT 99999999999, 0007, 2147483648 FROM t",
};

TEST(ConstantTokens, FindsTheConstants) {
  const auto tokens = ConstantTokens("SELECT a FROM t WHERE b = 42 AND c = 'x''y' AND d = 1.5e3");
  ASSERT_TRUE(tokens.has_value());
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[0].offset, 26u);
  EXPECT_EQ((*tokens)[0].length, 2u);
  EXPECT_EQ((*tokens)[1].kind, ConstantToken::Kind::kString);
  EXPECT_EQ((*tokens)[1].length, 6u);
  EXPECT_EQ((*tokens)[2].length, 5u);
  EXPECT_EQ(Key("SELECT a FROM t WHERE b = 42"), Key("SELECT a FROM t WHERE b = 7"));
  EXPECT_NE(Key("SELECT a FROM t WHERE b = 42"), Key("SELECT a FROM t WHERE b = '42'"));
  EXPECT_NE(Key("SELECT a FROM t WHERE b = 42"), Key("SELECT a FROM t WHERE b = 4.2"));
  EXPECT_EQ(Key("SELECT a FETCH FIRST 2147483647 ROWS ONLY"), Key("SELECT a FETCH FIRST 00001 ROWS ONLY"));
  EXPECT_NE(Key("SELECT a FETCH FIRST 2147483647 ROWS ONLY"), Key("SELECT a FETCH FIRST 2147483648 ROWS ONLY"));
  EXPECT_NE(Key("SELECT a FROM t WHERE b = 42"), Key("SELECT a FROM t WHERE c = 42"));
  EXPECT_NE(Key("SELECT a FROM t WHERE b = 42"), Key("SELECT a FROM t  WHERE b = 42"));
  // Digits of identifiers and of quoted identifiers are not constants.
  EXPECT_NE(Key("SELECT t1 FROM t"), Key("SELECT t2 FROM t"));
  EXPECT_NE(Key("SELECT \"1\" FROM t"), Key("SELECT \"2\" FROM t"));
}

TEST(ConstantTokens, TextsWithTheSameKeyAreAnalysedAlike) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  for (const std::string& sql : kAccepted) {
    const auto tokens = ConstantTokens(sql);
    ASSERT_TRUE(tokens.has_value()) << sql;
    const std::string other = WithOtherConstants(sql, *tokens);
    EXPECT_EQ(Key(sql), Key(other)) << other;
    EXPECT_TRUE(AnalysedAlike(sql, other, *policy, catalog)) << sql << "\n" << other;
  }
}

TEST(ConstantTokens, GivesUpOutsideThePlainSubset) {
  for (const char* sql : {
           "SELECT $1",                      // a parameter
           "SELECT $$x$$",                   // dollar quoting
           "SELECT a$b FROM t",              // '$' in an identifier
           "SELECT E'x\\n'",                 // escape string
           "SELECT e'x'",                    // lower-case prefix too
           "SELECT U&'d\\0061t'",            // Unicode escapes
           "SELECT U&\"d\"",                 //
           "SELECT B'0101'",                 // bit strings
           "SELECT X'1F'",                   //
           "SELECT N'x'",                    // national character
           "SELECT 'a\\' FROM t",            // a backslash, anywhere
           "SELECT 1 -- comment",            // comments
           "SELECT 1 /* comment */",         //
           "SELECT 1 /* nested /* */ */",    //
           "SELECT 0x1F",                    // PostgreSQL 15 reads "0 AS x1F"
           "SELECT 1e",                      // exponent without digits
           "SELECT 1.5.3",                   //
           "SELECT 1..2",                    //
           "SELECT 1_000",                   //
           "SELECT 'a'\n'b'",                // one constant to PostgreSQL
           "SELECT 'a' 'b'",                 //
           "SELECT 'unterminated",           //
           "SELECT \"unterminated",          //
           "SELECT 'caf\xc3\xa9'",           // non-ASCII
           "SELECT \x01",                    // control bytes
           "SELECT 1\f",                     //
           "SELECT {1}",                     //
       }) {
    EXPECT_FALSE(ConstantTokens(sql).has_value()) << sql;
    EXPECT_FALSE(Key(sql).has_value()) << sql;
  }
  EXPECT_FALSE(ConstantTokens(std::string("SELECT 1\0", 9)).has_value());
}

TEST(ConstantTokens, TruncatedTextsNeitherCrashNorMisread) {
  for (const std::string& sql : kAccepted) {
    for (size_t n = 0; n <= sql.size(); ++n) {
      const std::string prefix = sql.substr(0, n);
      const auto tokens = ConstantTokens(prefix);
      if (!tokens) continue;
      for (const ConstantToken& t : *tokens) ASSERT_LE(t.offset + t.length, prefix.size()) << prefix;
    }
  }
}

TEST(ConstantTokens, OversizedText) {
  std::string sql = "SELECT a FROM t WHERE b IN (";
  for (int i = 0; i < 200000; ++i) sql += "12345, 'abc', ";
  sql += "0)";
  const auto tokens = ConstantTokens(sql);
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->size(), 400001u);
  std::string key;
  ASSERT_TRUE(AppendConstantBlindKey(sql, key));
  EXPECT_LT(key.size(), sql.size());
}

TEST(ConstantTokens, GarbageNeverCrashes) {
  const auto policy = testing::TestPolicy();
  const CatalogView catalog(testing::TestCatalogData());
  std::mt19937 random(7);
  const std::string alphabet = "abcXYZ019_.,;:'\"$\\-/*+<>=()[]{} \n\t\x01\xff";
  for (int round = 0; round < 20000; ++round) {
    std::string sql;
    const int length = static_cast<int>(random() % 40);
    for (int i = 0; i < length; ++i) sql.push_back(alphabet[random() % alphabet.size()]);
    const auto tokens = ConstantTokens(sql);
    if (!tokens) continue;
    for (const ConstantToken& t : *tokens) ASSERT_LE(t.offset + t.length, sql.size());
    // Whatever it accepts is analysed alike with other constants.
    const std::string other = WithOtherConstants(sql, *tokens);
    EXPECT_TRUE(AnalysedAlike(sql, other, *policy, catalog)) << sql << "\n" << other;
  }
}

}  // namespace
}  // namespace pgmask::policy
