#include "proxy/scram_server.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/proxy/scram_test_util.h"

namespace pgmask::proxy::scram {
namespace {

using testing::kCertificateHash;
using testing::KeysFromPassword;
using testing::PasswordKeys;
using testing::RfcKeys;

constexpr std::string_view kBare = "n=,r=clientnonce";

// The client-final-message a client holding `keys` sends, built apart from the code under test.
std::string ClientFinalFor(const PasswordKeys& keys, std::string_view server_first, std::string_view binding,
                           std::string_view nonce) {
  const std::string without_proof = "c=" + Base64(binding) + ",r=" + std::string(nonce);
  const std::string auth = std::string(kBare) + "," + std::string(server_first) + "," + without_proof;
  const Key proof = Xor(keys.client_key, Hmac(keys.verifier.stored_key, auth));
  return without_proof + ",p=" + Base64(AsText(proof));
}

struct Login {
  std::string mechanism = "SCRAM-SHA-256";
  std::string gs2_header = "n,,";  // of the first message
  std::string binding = "n,,";     // what the final message's c= carries
  std::string nonce;               // the final message's, the server's when empty
  std::string password = "pencil";
};

// Runs `server` against a client of the RFC's verifier, with the password and choices of `login`.
absl::StatusOr<std::string> Exchange(Server& server, const Login& login) {
  const auto first = server.Start(login.mechanism, login.gs2_header + std::string(kBare));
  if (!first.ok()) return first.status();
  const size_t nonce_end = first->find(',');
  const std::string nonce = login.nonce.empty() ? first->substr(2, nonce_end - 2) : login.nonce;
  const PasswordKeys keys = KeysFromPassword(login.password, RfcKeys().verifier.salt, RfcKeys().verifier.iterations);
  return server.Finish(ClientFinalFor(keys, *first, login.binding, nonce));
}

const std::string kPlusHeader = "p=tls-server-end-point,,";

// A client that binds, sending `data` as the channel binding data.
Login Plus(std::string_view data) {
  Login login;
  login.mechanism = "SCRAM-SHA-256-PLUS";
  login.gs2_header = kPlusHeader;
  login.binding = kPlusHeader + std::string(data);
  return login;
}

// A client that could bind but believes the server cannot.
Login FlagY() {
  Login login;
  login.gs2_header = "y,,";
  login.binding = "y,,";
  return login;
}

Server RfcServer(std::string_view channel_binding) {
  return Server(RfcKeys().verifier, std::string(channel_binding), "servernonce");
}

TEST(ScramServer, Rfc7677TestVector) {
  const PasswordKeys keys = RfcKeys();
  Server server(keys.verifier, "", std::string(testing::kRfcServerNonce));
  EXPECT_EQ(server.Mechanisms(), std::vector<std::string_view>{"SCRAM-SHA-256"});
  const auto first = server.Start("SCRAM-SHA-256", testing::kRfcClientFirst);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, testing::kRfcServerFirst);
  const auto final_message = server.Finish(testing::kRfcClientFinal);
  ASSERT_TRUE(final_message.ok()) << final_message.status();
  EXPECT_EQ(*final_message, testing::kRfcServerFinal);
  EXPECT_EQ(server.client_key(), keys.client_key);
  EXPECT_FALSE(server.bound());
}

TEST(ScramServer, WrongPasswordIsUnauthenticated) {
  Server server = RfcServer("");
  Login login;
  login.password = "pencil2";
  EXPECT_EQ(Exchange(server, login).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(ScramServer, OffersPlusOverTlsAndChecksTheBindingData) {
  Server server = RfcServer(kCertificateHash);
  EXPECT_EQ(server.Mechanisms(), (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  const auto final_message = Exchange(server, Plus(kCertificateHash));
  ASSERT_TRUE(final_message.ok()) << final_message.status();
  EXPECT_TRUE(server.bound());
  EXPECT_EQ(server.client_key(), RfcKeys().client_key);
}

Login WithBinding(std::string binding) {
  Login login;
  login.binding = std::move(binding);
  return login;
}

Login WithNonce(std::string nonce) {
  Login login;
  login.nonce = std::move(nonce);
  return login;
}

struct RefusedCase {
  std::string name;
  std::string_view channel_binding;  // pgmask's certificate hash, empty without TLS
  Login login;
  std::string message;
};

class ScramServerRefusesTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(ScramServerRefusesTest, AsAProtocolViolation) {
  const RefusedCase& c = GetParam();
  Server server = RfcServer(c.channel_binding);
  const auto final_message = Exchange(server, c.login);
  EXPECT_EQ(final_message.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(final_message.status().message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScramServerRefusesTest,
    ::testing::Values(
        // The hash of the certificate the client saw differs: its TLS peer is not pgmask.
        RefusedCase{"AnotherCertificatesBindingData", kCertificateHash, Plus("fedcba9876543210fedcba9876543210"),
                    "SCRAM channel binding check failed"},
        RefusedCase{"BindingHeaderUnlikeTheFirstMessage", "", WithBinding("y,,"), "SCRAM channel binding check failed"},
        RefusedCase{"NonceNotTheServers", "", WithNonce("clientnonceOTHER"),
                    "invalid SCRAM response: the nonce does not match"}),
    [](const ::testing::TestParamInfo<RefusedCase>& info) { return info.param.name; });

TEST(ScramServer, FlagYIsADowngradeWhenPlusWasOffered) {
  Server server = RfcServer(kCertificateHash);
  const auto final_message = Exchange(server, FlagY());
  EXPECT_EQ(final_message.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(final_message.status().message(), "channel binding negotiation error"))
      << final_message.status();
}

TEST(ScramServer, FlagYIsAcceptedWhenPlusWasNotOffered) {
  Server server = RfcServer("");
  const auto final_message = Exchange(server, FlagY());
  ASSERT_TRUE(final_message.ok()) << final_message.status();
  EXPECT_FALSE(server.bound());
}

struct ChoiceCase {
  std::string name;
  bool tls;  // pgmask offers PLUS
  std::string mechanism;
  std::string client_first;
};

class ScramServerChoiceTest : public ::testing::TestWithParam<ChoiceCase> {};

TEST_P(ScramServerChoiceTest, RefusedAsAProtocolViolation) {
  const ChoiceCase& c = GetParam();
  Server server = RfcServer(c.tls ? kCertificateHash : "");
  const auto first = server.Start(c.mechanism, c.client_first);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kInvalidArgument) << first.status();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScramServerChoiceTest,
    ::testing::Values(
        ChoiceCase{"PlusNotOffered", false, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"},
        ChoiceCase{"UnknownMechanism", true, "SCRAM-SHA-1", "n,,n=,r=abc"},
        ChoiceCase{"BindingDataWithoutPlus", true, "SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abc"},
        ChoiceCase{"PlusWithoutBindingData", true, "SCRAM-SHA-256-PLUS", "n,,n=,r=abc"},
        ChoiceCase{"PlusWithFlagY", true, "SCRAM-SHA-256-PLUS", "y,,n=,r=abc"},
        ChoiceCase{"UnsupportedBindingType", true, "SCRAM-SHA-256-PLUS", "p=tls-unique,,n=,r=abc"},
        ChoiceCase{"AuthorizationIdentity", false, "SCRAM-SHA-256", "n,a=admin,n=,r=abc"},
        ChoiceCase{"Garbage", false, "SCRAM-SHA-256", "\x01\x02garbage"},
        ChoiceCase{"Empty", false, "SCRAM-SHA-256", ""}),
    [](const ::testing::TestParamInfo<ChoiceCase>& info) { return info.param.name; });

TEST(ScramServer, OneAttemptInOrder) {
  const PasswordKeys keys = RfcKeys();
  Server server(keys.verifier, "", std::string(testing::kRfcServerNonce));
  EXPECT_FALSE(server.Finish(testing::kRfcClientFinal).ok());  // before Start
  ASSERT_TRUE(server.Start("SCRAM-SHA-256", testing::kRfcClientFirst).ok());
  EXPECT_FALSE(server.Start("SCRAM-SHA-256", testing::kRfcClientFirst).ok());
  EXPECT_FALSE(server.Finish("c=biws,r=garbage").ok());
  // The right proof after a failed attempt is refused: the exchange is over.
  EXPECT_FALSE(server.Finish(testing::kRfcClientFinal).ok());
}

}  // namespace
}  // namespace pgmask::proxy::scram
