#include "policy/commands.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "policy/masker.h"
#include "policy/tokenizer.h"
#include "tests/policy/test_keys.h"

namespace pgmask::policy {
namespace {

const std::string kTestdata = std::string(PGMASK_TESTDATA_DIR) + "/policy";

TEST(CheckCommandTest, SummarisesAValidPolicy) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckCommand(kTestdata + "/clinic.yaml", out, err), 0);
  EXPECT_EQ(err.str(), "");
  const std::string summary = out.str();
  for (const std::string& expected :
       {std::string("classifications (3):"), std::string("PHI  restricted"),
        std::string("public.patients (key: id)"), std::string("ssn      PII  partial(0, 'XXX-XX-', 4)"),
        std::string("analyst      PHI: mask, PII: tokenize, PCI: deny"),
        std::string("settings: inference deny; trusted functions: none"),
        std::string("keys needed: token (--token-key-file or PGMASK_TOKEN_KEY)"),
        std::string("sha256: ")}) {
    EXPECT_NE(summary.find(expected), std::string::npos) << expected << "\n" << summary;
  }
  int lines = 0;
  for (const char c : summary) lines += c == '\n';
  EXPECT_LE(lines, 40);  // one screen
}

TEST(CheckCommandTest, PrintsEveryErrorAndFails) {
  std::ostringstream out, err;
  const std::string path = kTestdata + "/broken_many.yaml";
  EXPECT_EQ(RunCheckCommand(path, out, err), 1);
  EXPECT_EQ(out.str(), "");
  int lines = 0;
  for (const char c : err.str()) lines += c == '\n';
  EXPECT_EQ(lines, 10);
  EXPECT_EQ(err.str().substr(0, path.size() + 6), path + ":1:10:");
}

TEST(CheckCommandTest, SyntaxAndDuplicateFixtures) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckCommand(kTestdata + "/broken_syntax.yaml", out, err), 1);
  EXPECT_EQ(err.str(), kTestdata + "/broken_syntax.yaml:4:7: YAML syntax error: end of map flow not found\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCheckCommand(kTestdata + "/duplicate_role.yaml", out2, err2), 1);
  EXPECT_EQ(err2.str(), kTestdata + "/duplicate_role.yaml:5:3: duplicate role 'analyst' (first at line 4)\n");
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCheckCommand(kTestdata + "/missing.yaml", out3, err3), 1);
  EXPECT_NE(err3.str().find("cannot open"), std::string::npos);
}

TEST(DetokenizeCommandTest, ReversesTokensOfEachType) {
  Tokenizer tokenizer = *Tokenizer::Create(testing_keys::TokenKey());
  std::string ssn, id;
  ASSERT_TRUE(tokenizer.Tokenize(PgType::kText, "123-45-6789", ssn));
  ASSERT_TRUE(tokenizer.Tokenize(PgType::kInt4, "4242", id));
  std::ostringstream out, err;
  EXPECT_EQ(RunDetokenizeCommand(testing_keys::TokenKey(), "text", std::vector<std::string>{ssn}, out, err), 0);
  EXPECT_EQ(out.str(), "123-45-6789\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunDetokenizeCommand(testing_keys::TokenKey(), "integer", std::vector<std::string>{id, "0123"}, out2, err2), 1);
  EXPECT_EQ(out2.str(), "4242\n");
  EXPECT_EQ(err2.str(), "pgmask detokenize: value 2 is not a token of type int4\n");
  std::ostringstream out3, err3;
  EXPECT_EQ(RunDetokenizeCommand(testing_keys::TokenKey(), "hstore", std::vector<std::string>{id}, out3, err3), 1);
  EXPECT_EQ(err3.str(), "pgmask detokenize: unknown type 'hstore'\n");
}

}  // namespace
}  // namespace pgmask::policy
