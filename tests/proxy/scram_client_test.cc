#include "proxy/scram_client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/scram_server.h"
#include "tests/proxy/scram_test_util.h"

namespace pgmask::proxy::scram {
namespace {

using testing::KeysFromPassword;
using testing::PasswordKeys;
using testing::RfcKeys;

// pgmask's client against pgmask's server, which the RFC 7677 vector checks independently.
TEST(ScramClient, LogsInWithTheClientKeyAndChecksTheServer) {
  for (const std::string_view binding : {std::string_view(), testing::kCertificateHash}) {
    const PasswordKeys keys = RfcKeys();
    Server server(keys.verifier, std::string(binding), "servernonce");
    Client client(keys.verifier, keys.client_key, std::string(binding), "clientnonce");
    const auto initial = client.Start(server.Mechanisms());
    ASSERT_TRUE(initial.ok()) << initial.status();
    EXPECT_EQ(initial->mechanism, binding.empty() ? "SCRAM-SHA-256" : "SCRAM-SHA-256-PLUS");
    const auto server_first = server.Start(initial->mechanism, initial->message);
    ASSERT_TRUE(server_first.ok()) << server_first.status();
    const auto client_final = client.Continue(*server_first);
    ASSERT_TRUE(client_final.ok()) << client_final.status();
    const auto server_final = server.Finish(*client_final);
    ASSERT_TRUE(server_final.ok()) << server_final.status();
    EXPECT_TRUE(client.Finish(*server_final).ok());
    EXPECT_TRUE(client.finished());
    EXPECT_EQ(client.bound(), !binding.empty());
    EXPECT_EQ(server.bound(), !binding.empty());
  }
}

struct FlagCase {
  std::string name;
  std::vector<std::string_view> offered;
  std::string channel_binding;
  std::string_view mechanism;
  std::string_view gs2_header;
};

class ScramClientFlagTest : public ::testing::TestWithParam<FlagCase> {};

TEST_P(ScramClientFlagTest, ChoosesAsLibpq) {
  const FlagCase& c = GetParam();
  Client client(RfcKeys().verifier, RfcKeys().client_key, c.channel_binding, "clientnonce");
  const auto initial = client.Start(c.offered);
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_EQ(initial->mechanism, c.mechanism);
  EXPECT_EQ(initial->message, std::string(c.gs2_header) + "n=,r=clientnonce");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScramClientFlagTest,
    ::testing::Values(
        FlagCase{"BindsWhenOffered", {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, std::string(testing::kCertificateHash),
                 "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,"},
        FlagCase{"TlsWithoutTheOfferSaysY", {"SCRAM-SHA-256"}, std::string(testing::kCertificateHash), "SCRAM-SHA-256", "y,,"},
        FlagCase{"PlaintextSaysN", {"SCRAM-SHA-256"}, "", "SCRAM-SHA-256", "n,,"},
        // A certificate whose hash is unknown cannot be bound to; 'y' would be refused as a downgrade.
        FlagCase{"OfferedButNoHash", {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, "", "SCRAM-SHA-256", "n,,"}),
    [](const ::testing::TestParamInfo<FlagCase>& info) { return info.param.name; });

TEST(ScramClient, RefusesAServerWithoutScram) {
  Client client(RfcKeys().verifier, RfcKeys().client_key, "", "clientnonce");
  const std::vector<std::string_view> offered = {"SCRAM-SHA-1"};
  EXPECT_EQ(client.Start(offered).status().code(), absl::StatusCode::kInvalidArgument);
}

// Starts a client that offered SCRAM-SHA-256 and answers it with `server_first`.
absl::StatusOr<std::string> ContinueWith(Client& client, std::string_view server_first) {
  const std::vector<std::string_view> offered = {"SCRAM-SHA-256"};
  const auto initial = client.Start(offered);
  if (!initial.ok()) return initial.status();
  return client.Continue(server_first);
}

TEST(ScramClient, AnotherSaltOrIterationCountMeansAStaleAuthFile) {
  const PasswordKeys keys = RfcKeys();
  const std::string salt = Base64(keys.verifier.salt);
  for (const std::string& server_first : {"r=clientnonceXYZ,s=" + Base64("other salt") + ",i=4096",
                                         "r=clientnonceXYZ,s=" + salt + ",i=8192"}) {
    Client client(keys.verifier, keys.client_key, "", "clientnonce");
    const auto final_message = ContinueWith(client, server_first);
    EXPECT_EQ(final_message.status().code(), absl::StatusCode::kFailedPrecondition) << server_first;
  }
}

TEST(ScramClient, RefusesANonceThatDoesNotExtendPgmasks) {
  const PasswordKeys keys = RfcKeys();
  const std::string salt = Base64(keys.verifier.salt);
  for (const char* nonce : {"clientnonce", "otherclientnonceXYZ", "clientnonc"}) {
    Client client(keys.verifier, keys.client_key, "", "clientnonce");
    const auto final_message = ContinueWith(client, std::string("r=") + nonce + ",s=" + salt + ",i=4096");
    EXPECT_EQ(final_message.status().code(), absl::StatusCode::kInvalidArgument) << nonce;
  }
}

TEST(ScramClient, RefusesAServerThatDoesNotKnowTheVerifier) {
  const PasswordKeys keys = RfcKeys();
  // A server with the same salt and iterations but another password signs with another ServerKey.
  const PasswordKeys impostor = KeysFromPassword("not pencil", keys.verifier.salt, keys.verifier.iterations);
  Server server(impostor.verifier, "", "servernonce");
  Client client(keys.verifier, keys.client_key, "", "clientnonce");
  const auto initial = client.Start(server.Mechanisms());
  ASSERT_TRUE(initial.ok());
  const auto server_first = server.Start(initial->mechanism, initial->message);
  ASSERT_TRUE(server_first.ok());
  ASSERT_TRUE(client.Continue(*server_first).ok());
  const std::string forged = "v=" + Base64(AsText(Hmac(impostor.verifier.server_key, "anything")));
  EXPECT_EQ(client.Finish(forged).code(), absl::StatusCode::kUnauthenticated);
}

TEST(ScramClient, ReportsTheServersError) {
  const PasswordKeys keys = RfcKeys();
  Client client(keys.verifier, keys.client_key, "", "clientnonce");
  ASSERT_TRUE(ContinueWith(client, "r=clientnonceXYZ,s=" + Base64(keys.verifier.salt) + ",i=4096").ok());
  const absl::Status status = client.Finish("e=invalid-proof");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("invalid-proof"), absl::string_view::npos) << status;
}

TEST(ScramClient, StepsInOrder) {
  const PasswordKeys keys = RfcKeys();
  Client client(keys.verifier, keys.client_key, "", "clientnonce");
  EXPECT_FALSE(client.started());
  EXPECT_FALSE(client.Continue("r=clientnonceXYZ,s=" + Base64(keys.verifier.salt) + ",i=4096").ok());
  EXPECT_FALSE(client.Finish("v=" + Base64(AsText(Key{}))).ok());
  const std::vector<std::string_view> offered = {"SCRAM-SHA-256"};
  ASSERT_TRUE(client.Start(offered).ok());
  EXPECT_TRUE(client.started());
  EXPECT_FALSE(client.Start(offered).ok());
}

}  // namespace
}  // namespace pgmask::proxy::scram
