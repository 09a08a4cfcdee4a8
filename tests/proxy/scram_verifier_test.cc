#include "proxy/scram_verifier.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/proxy/scram_test_util.h"

namespace pgmask::proxy::scram {
namespace {

TEST(ParseVerifier, ReadsPostgresFormat) {
  const testing::PasswordKeys keys = testing::RfcKeys();
  const auto verifier = ParseVerifier(testing::VerifierText(keys.verifier));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ(verifier->iterations, 4096);
  EXPECT_EQ(verifier->salt, keys.verifier.salt);
  EXPECT_EQ(verifier->stored_key, keys.verifier.stored_key);
  EXPECT_EQ(verifier->server_key, keys.verifier.server_key);
}

struct Case {
  std::string name;
  std::string secret;
};

class ParseVerifierRefusesTest : public ::testing::TestWithParam<Case> {};

TEST_P(ParseVerifierRefusesTest, Refused) {
  EXPECT_FALSE(ParseVerifier(GetParam().secret).ok()) << GetParam().secret;
}

const std::string kKey = Base64(std::string(32, 'k'));

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseVerifierRefusesTest,
    ::testing::Values(Case{"Md5", "md5" + std::string(32, '0')},
                      Case{"Plain", "a password"},
                      Case{"Empty", ""},
                      Case{"SchemeOnly", "SCRAM-SHA-256$"},
                      Case{"NoKeys", "SCRAM-SHA-256$4096:c2FsdA=="},
                      Case{"NoServerKey", "SCRAM-SHA-256$4096:c2FsdA==$" + kKey},
                      Case{"NoSalt", "SCRAM-SHA-256$4096$" + kKey + ":" + kKey},
                      Case{"EmptySalt", "SCRAM-SHA-256$4096:$" + kKey + ":" + kKey},
                      Case{"ZeroIterations", "SCRAM-SHA-256$0:c2FsdA==$" + kKey + ":" + kKey},
                      Case{"IterationsNotANumber", "SCRAM-SHA-256$x:c2FsdA==$" + kKey + ":" + kKey},
                      Case{"ShortKey", "SCRAM-SHA-256$4096:c2FsdA==$" + Base64("short") + ":" + kKey},
                      Case{"KeyNotBase64", "SCRAM-SHA-256$4096:c2FsdA==$" + kKey + ":!!!"},
                      Case{"ExtraField", "SCRAM-SHA-256$4096:c2FsdA==$" + kKey + ":" + kKey + ":" + kKey},
                      Case{"OtherHash", "SCRAM-SHA-1$4096:c2FsdA==$" + kKey + ":" + kKey}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(IsScramSecret, TellsVerifiersFromOtherSecrets) {
  EXPECT_TRUE(IsScramSecret("SCRAM-SHA-256$4096:..."));
  EXPECT_FALSE(IsScramSecret("md5abc"));
  EXPECT_FALSE(IsScramSecret("scram-sha-256$4096"));
}

}  // namespace
}  // namespace pgmask::proxy::scram
