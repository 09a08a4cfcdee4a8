#include "policy/explain_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

class ExplainCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test in its own process, several at once: one file per process.
    path_ = ::testing::TempDir() + "explain_policy." + std::to_string(::getpid()) + ".yaml";
    std::ofstream(path_) << testing::PolicyText("deny");
  }
  void TearDown() override { std::remove(path_.c_str()); }

  int Run(std::string_view role, std::string_view sql, bool json = false) {
    out_.str("");
    err_.str("");
    return RunExplainCommand(path_, role, sql, json, out_, err_);
  }

  std::string path_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(ExplainCommandTest, ListsColumnsWithLineageClassAndAction) {
  EXPECT_EQ(Run("analyst", "SELECT id, ssn, upper(email) FROM patients"), 0);
  const std::string text = out_.str();
  EXPECT_NE(text.find("role analyst: PII tokenize, PHI mask, PCI deny, REF mask (policy entries: analyst)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("statement 1 (select): allowed"), std::string::npos) << text;
  EXPECT_NE(text.find("1. id <- no protected column: clear"), std::string::npos) << text;
  EXPECT_NE(text.find("2. ssn <- public.patients.ssn [PII] (direct): tokenize"), std::string::npos) << text;
  EXPECT_NE(text.find("3. upper <- public.patients.email [PII] (derived): redact"), std::string::npos) << text;
  EXPECT_NE(text.find("catalog: offline"), std::string::npos) << text;
}

TEST_F(ExplainCommandTest, OfflineStarListsUnknownColumns) {
  EXPECT_EQ(Run("support", "SELECT * FROM billing.payments"), 0);
  EXPECT_NE(out_.str().find("1. card_number <- billing.payments.card_number [PCI] (direct): mask"), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("2. * (columns pgmask cannot list) <- no protected column: clear"), std::string::npos)
      << out_.str();
}

TEST_F(ExplainCommandTest, RefusalsAndInferenceExitTwo) {
  EXPECT_EQ(Run("analyst", "SELECT id FROM patients WHERE ssn = '1'; SELECT card_number FROM billing.payments"), 2);
  const std::string text = out_.str();
  EXPECT_NE(text.find("public.patients.ssn [PII] in WHERE, seen as tokenize: refused"), std::string::npos) << text;
  EXPECT_NE(text.find("statement 2 (select): refused: pgmask: permission denied for column "
                      "billing.payments.card_number (class PCI)"),
            std::string::npos)
      << text;
}

TEST_F(ExplainCommandTest, Json) {
  EXPECT_EQ(Run("analyst", "SELECT ssn FROM patients GROUP BY ssn", true), 0);
  const std::string json = out_.str();
  EXPECT_NE(json.find("\"role\":\"analyst\""), std::string::npos) << json;
  EXPECT_NE(json.find("{\"name\":\"ssn\",\"unlisted\":false,\"sources\":[{\"column\":\"public.patients.ssn\","
                      "\"class\":\"PII\"}],\"untraceable\":false,\"direct\":true,\"treatment\":\"tokenize\"}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"clause\":\"GROUP BY\",\"equality_only\":true,\"action\":\"tokenize\",\"allowed\":true"),
            std::string::npos)
      << json;
}

TEST_F(ExplainCommandTest, UnparsableStatement) {
  EXPECT_EQ(Run("analyst", "SELECT FROM WHERE"), 2);
  EXPECT_NE(out_.str().find("could not be parsed"), std::string::npos) << out_.str();
  EXPECT_EQ(Run("app", "SELECT FROM WHERE"), 0);
  EXPECT_EQ(Run("analyst", "SELEC 1", true), 2);
  EXPECT_NE(out_.str().find("\"kind\":\"unparsable\""), std::string::npos) << out_.str();
}

TEST_F(ExplainCommandTest, ClearRoleIsSaidToPassThrough) {
  EXPECT_EQ(Run("app", "SELECT ssn FROM patients"), 0);
  EXPECT_NE(out_.str().find("passes its statements through unanalysed"), std::string::npos) << out_.str();
}

TEST_F(ExplainCommandTest, BadPolicyFile) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunExplainCommand(path_ + ".missing", "analyst", "SELECT 1", false, out, err), 1);
  EXPECT_FALSE(err.str().empty());
}

}  // namespace
}  // namespace pgmask::policy
