#include "proxy/scram_messages.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "tests/proxy/scram_test_util.h"

namespace pgmask::proxy::scram {
namespace {

using protocol::Gs2ChannelBinding;

const std::string kProof = Base64(std::string(32, 'p'));
const std::string kTooLong(kMaxMessageSize + 1, 'a');

TEST(ParseClientFirst, ReadsTheRfcMessage) {
  const auto first = ParseClientFirst(testing::kRfcClientFirst);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->binding, Gs2ChannelBinding::kUnsupported);
  EXPECT_EQ(first->gs2_header, "n,,");
  EXPECT_EQ(first->bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
  EXPECT_EQ(first->nonce, testing::kRfcClientNonce);
}

TEST(ParseClientFirst, ReadsTheChannelBindingFlag) {
  const auto bound = ParseClientFirst("p=tls-server-end-point,,n=,r=abc,x=ignored");
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->binding, Gs2ChannelBinding::kBound);
  EXPECT_EQ(bound->binding_type, "tls-server-end-point");
  EXPECT_EQ(bound->gs2_header, "p=tls-server-end-point,,");
  EXPECT_EQ(bound->bare, "n=,r=abc,x=ignored");
  const auto could = ParseClientFirst("y,,n=,r=abc");
  ASSERT_TRUE(could.ok()) << could.status();
  EXPECT_EQ(could->binding, Gs2ChannelBinding::kServerLacksIt);
}

TEST(ParseServerFirst, ReadsTheRfcMessage) {
  const auto first = ParseServerFirst(testing::kRfcServerFirst);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->nonce, std::string(testing::kRfcClientNonce) + std::string(testing::kRfcServerNonce));
  EXPECT_EQ(first->salt, *FromBase64(testing::kRfcSalt));
  EXPECT_EQ(first->iterations, 4096);
  EXPECT_EQ(FormatServerFirst(first->nonce, first->salt, first->iterations), testing::kRfcServerFirst);
}

TEST(ParseClientFinal, ReadsTheRfcMessage) {
  const auto final_message = ParseClientFinal(testing::kRfcClientFinal);
  ASSERT_TRUE(final_message.ok()) << final_message.status();
  EXPECT_EQ(final_message->channel_binding, "n,,");
  EXPECT_EQ(final_message->without_proof, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  EXPECT_EQ(FormatClientFinal(final_message->without_proof, final_message->proof), testing::kRfcClientFinal);
  // Extensions before the proof are part of what the proof signs.
  const std::string message = "c=biws,r=abc,x=1,p=" + kProof;
  const auto extended = ParseClientFinal(message);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->without_proof, "c=biws,r=abc,x=1");
}

TEST(ParseServerFinal, ReadsTheRfcMessage) {
  const auto signature = ParseServerFinal(testing::kRfcServerFinal);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(FormatServerFinal(*signature), testing::kRfcServerFinal);
}

struct MalformedCase {
  std::string name;
  std::function<absl::Status(std::string_view)> parse;
  std::string message;
};

class MalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, IsRefused) {
  const MalformedCase& c = GetParam();
  const absl::Status status = c.parse(c.message);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

absl::Status ClientFirstOf(std::string_view m) { return ParseClientFirst(m).status(); }
absl::Status ServerFirstOf(std::string_view m) { return ParseServerFirst(m).status(); }
absl::Status ClientFinalOf(std::string_view m) { return ParseClientFinal(m).status(); }
absl::Status ServerFinalOf(std::string_view m) { return ParseServerFinal(m).status(); }

INSTANTIATE_TEST_SUITE_P(
    ClientFirst, MalformedTest,
    ::testing::Values(MalformedCase{"Empty", ClientFirstOf, ""},
                      MalformedCase{"FlagOnly", ClientFirstOf, "n"},
                      MalformedCase{"HeaderOnly", ClientFirstOf, "n,,"},
                      MalformedCase{"NoNonce", ClientFirstOf, "n,,n=user"},
                      MalformedCase{"EmptyNonce", ClientFirstOf, "n,,n=,r="},
                      MalformedCase{"NonceWithSpace", ClientFirstOf, "n,,n=,r=a b"},
                      MalformedCase{"NonceWithControlByte", ClientFirstOf, std::string("n,,n=,r=a\x01", 10)},
                      MalformedCase{"TrailingComma", ClientFirstOf, "n,,n=,r=abc,"},
                      MalformedCase{"GarbageExtension", ClientFirstOf, "n,,n=,r=abc,1=x"},
                      MalformedCase{"UnknownFlag", ClientFirstOf, "x,,n=,r=abc"},
                      MalformedCase{"NoBindingType", ClientFirstOf, "p=,,n=,r=abc"},
                      MalformedCase{"MandatoryExtension", ClientFirstOf, "n,,m=ext,n=,r=abc"},
                      MalformedCase{"Authzid", ClientFirstOf, "n,a=someone,n=,r=abc"},
                      MalformedCase{"AttributesOutOfOrder", ClientFirstOf, "n,,r=abc,n="},
                      MalformedCase{"Binary", ClientFirstOf, std::string("\0\xff\xfe", 3)},
                      MalformedCase{"Oversized", ClientFirstOf, "n,,n=,r=" + kTooLong}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ServerFirst, MalformedTest,
    ::testing::Values(MalformedCase{"Empty", ServerFirstOf, ""},
                      MalformedCase{"NonceOnly", ServerFirstOf, "r=abc"},
                      MalformedCase{"NoIterations", ServerFirstOf, "r=abc,s=c2FsdA=="},
                      MalformedCase{"SaltNotBase64", ServerFirstOf, "r=abc,s=!!!,i=4096"},
                      MalformedCase{"EmptySalt", ServerFirstOf, "r=abc,s=,i=4096"},
                      MalformedCase{"ZeroIterations", ServerFirstOf, "r=abc,s=c2FsdA==,i=0"},
                      MalformedCase{"NegativeIterations", ServerFirstOf, "r=abc,s=c2FsdA==,i=-1"},
                      MalformedCase{"HugeIterations", ServerFirstOf, "r=abc,s=c2FsdA==,i=99999999999"},
                      MalformedCase{"IterationsNotANumber", ServerFirstOf, "r=abc,s=c2FsdA==,i=many"},
                      MalformedCase{"MandatoryExtension", ServerFirstOf, "m=x,r=abc,s=c2FsdA==,i=4096"},
                      MalformedCase{"Garbage", ServerFirstOf, "garbage"},
                      MalformedCase{"Oversized", ServerFirstOf, "r=abc,s=c2FsdA==,i=4096,x=" + kTooLong}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ClientFinal, MalformedTest,
    ::testing::Values(MalformedCase{"Empty", ClientFinalOf, ""},
                      MalformedCase{"BindingOnly", ClientFinalOf, "c=biws"},
                      MalformedCase{"NoProof", ClientFinalOf, "c=biws,r=abc"},
                      MalformedCase{"EmptyProof", ClientFinalOf, "c=biws,r=abc,p="},
                      MalformedCase{"ShortProof", ClientFinalOf, "c=biws,r=abc,p=" + Base64("short")},
                      MalformedCase{"ProofNotBase64", ClientFinalOf, "c=biws,r=abc,p=!!!!"},
                      MalformedCase{"BindingNotBase64", ClientFinalOf, "c=!!,r=abc,p=" + kProof},
                      MalformedCase{"AttributeAfterProof", ClientFinalOf, "c=biws,r=abc,p=" + kProof + ",x=1"},
                      MalformedCase{"GarbageBeforeProof", ClientFinalOf, "c=biws,r=abc,???,p=" + kProof},
                      MalformedCase{"NonceMissing", ClientFinalOf, "c=biws,p=" + kProof},
                      MalformedCase{"Truncated", ClientFinalOf, std::string(testing::kRfcClientFinal.substr(0, 60))},
                      MalformedCase{"Oversized", ClientFinalOf, "c=biws,r=abc,x=" + kTooLong + ",p=" + kProof}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ServerFinal, MalformedTest,
    ::testing::Values(MalformedCase{"Empty", ServerFinalOf, ""},
                      MalformedCase{"NoSignature", ServerFinalOf, "v="},
                      MalformedCase{"ShortSignature", ServerFinalOf, "v=" + Base64("short")},
                      MalformedCase{"Garbage", ServerFinalOf, "garbage"},
                      MalformedCase{"Truncated", ServerFinalOf, std::string(testing::kRfcServerFinal.substr(0, 20))},
                      MalformedCase{"Oversized", ServerFinalOf, "v=" + kProof + ",x=" + kTooLong}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

TEST(ParseServerFinal, AnErrorAttributeIsTheServersRefusal) {
  const auto refused = ParseServerFinal("e=invalid-proof");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace pgmask::proxy::scram
