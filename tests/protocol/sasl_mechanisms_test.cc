#include "protocol/sasl_mechanisms.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;
using testing::CStr;
using testing::Msg;
using testing::PutU32;

std::string SaslBody(std::string_view mechanisms) {
  std::string body;
  PutU32(body, 10);
  body.append(mechanisms);
  return body;
}

struct Case {
  std::string name;
  std::string mechanisms;  // the raw list, terminator included
  std::string expected;    // the list relayed, or empty for an error
};

class SaslWithoutChannelBindingTest : public ::testing::TestWithParam<Case> {};

TEST_P(SaslWithoutChannelBindingTest, Rewrites) {
  const Case& c = GetParam();
  const std::string body = SaslBody(c.mechanisms);
  const auto out = SaslWithoutChannelBinding(AsBytes(body));
  if (c.expected.empty()) {
    EXPECT_FALSE(out.ok());
    return;
  }
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, Msg('R', SaslBody(c.expected)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SaslWithoutChannelBindingTest,
    ::testing::Values(
        Case{"PlusRemoved", CStr("SCRAM-SHA-256-PLUS") + CStr("SCRAM-SHA-256") + '\0', CStr("SCRAM-SHA-256") + '\0'},
        Case{"PlainListUnchanged", CStr("SCRAM-SHA-256") + '\0', CStr("SCRAM-SHA-256") + '\0'},
        Case{"OnlyPlusLeavesEmptyList", CStr("SCRAM-SHA-256-PLUS") + '\0', std::string(1, '\0')},
        Case{"Unterminated", CStr("SCRAM-SHA-256"), ""},
        Case{"CutInsideName", "SCRAM-SH", ""},
        Case{"TrailingBytes", CStr("SCRAM-SHA-256") + '\0' + "x", ""}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(SaslWithoutChannelBinding, RefusesOtherCodes) {
  std::string body;
  PutU32(body, 11);
  EXPECT_FALSE(SaslWithoutChannelBinding(AsBytes(body)).ok());
  EXPECT_FALSE(SaslWithoutChannelBinding(AsBytes("")).ok());
}

// A SASLInitialResponse body: the mechanism, then the response with its length.
std::string InitialResponse(std::string_view mechanism, std::string_view response) {
  std::string body = CStr(mechanism);
  PutU32(body, static_cast<uint32_t>(response.size()));
  body.append(response);
  return body;
}

struct Gs2Case {
  std::string name;
  std::string body;
  std::optional<Gs2ChannelBinding> expected;  // nullopt: refused as malformed
};

class SaslInitialChannelBindingTest : public ::testing::TestWithParam<Gs2Case> {};

TEST_P(SaslInitialChannelBindingTest, ReadsTheGs2Flag) {
  const Gs2Case& c = GetParam();
  const auto flag = SaslInitialChannelBinding(AsBytes(c.body));
  if (!c.expected) {
    EXPECT_FALSE(flag.ok());
    return;
  }
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_EQ(*flag, *c.expected);
}

std::string NoInitialResponse() {
  std::string body = CStr("SCRAM-SHA-256");
  PutU32(body, 0xFFFFFFFF);  // -1
  return body;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SaslInitialChannelBindingTest,
    ::testing::Values(
        Gs2Case{"CannotBind", InitialResponse("SCRAM-SHA-256", "n,,n=,r=abc"), Gs2ChannelBinding::kUnsupported},
        Gs2Case{"CouldBind", InitialResponse("SCRAM-SHA-256", "y,,n=,r=abc"), Gs2ChannelBinding::kServerLacksIt},
        Gs2Case{"Binds", InitialResponse("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"),
                Gs2ChannelBinding::kBound},
        Gs2Case{"NotGs2", InitialResponse("SCRAM-SHA-256", "x,,n=,r=abc"), std::nullopt},
        Gs2Case{"EmptyResponse", InitialResponse("SCRAM-SHA-256", ""), std::nullopt},
        Gs2Case{"NoResponse", NoInitialResponse(), std::nullopt},
        Gs2Case{"LengthPastTheEnd", InitialResponse("SCRAM-SHA-256", "y,,n=,r=abc").substr(0, 20), std::nullopt},
        Gs2Case{"BytesAfterTheResponse", InitialResponse("SCRAM-SHA-256", "y,,n=,r=abc") + "z", std::nullopt},
        Gs2Case{"UnterminatedMechanism", "SCRAM-SHA-256", std::nullopt},
        Gs2Case{"NoLength", CStr("SCRAM-SHA-256") + "\x01", std::nullopt},
        Gs2Case{"Empty", "", std::nullopt}),
    [](const ::testing::TestParamInfo<Gs2Case>& info) { return info.param.name; });

}  // namespace
}  // namespace pgmask::protocol
