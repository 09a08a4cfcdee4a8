#include "protocol/startup_packet.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;
using testing::CStr;
using testing::PutU32;

std::string Packet(uint32_t code, std::string_view rest) {
  std::string s;
  PutU32(s, static_cast<uint32_t>(8 + rest.size()));
  PutU32(s, code);
  s.append(rest);
  return s;
}

std::string Startup(std::string_view params) { return Packet(3u << 16, params); }

TEST(StartupLength, NeedsFourBytes) {
  EXPECT_EQ(DecodeStartupLength(AsBytes("")).status, DecodeStatus::kNeedMoreData);
  EXPECT_EQ(DecodeStartupLength(AsBytes(std::string_view("\0\0\0", 3))).status, DecodeStatus::kNeedMoreData);
}

struct LengthCase {
  std::string name;
  uint32_t length;
  DecodeStatus status;
};
class StartupLengthTest : public ::testing::TestWithParam<LengthCase> {};
TEST_P(StartupLengthTest, CapsBeforeBuffering) {
  std::string s;
  PutU32(s, GetParam().length);
  EXPECT_EQ(DecodeStartupLength(AsBytes(s)).status, GetParam().status);
}
INSTANTIATE_TEST_SUITE_P(Cases, StartupLengthTest,
                         ::testing::Values(LengthCase{"Zero", 0, DecodeStatus::kViolation},
                                           LengthCase{"Three", 3, DecodeStatus::kViolation},
                                           LengthCase{"Seven", 7, DecodeStatus::kViolation},
                                           LengthCase{"Eight", 8, DecodeStatus::kFrame},
                                           LengthCase{"TenThousand", 10000, DecodeStatus::kFrame},
                                           LengthCase{"OverTenThousand", 10001, DecodeStatus::kViolation},
                                           LengthCase{"MaxInt", 0x7fffffff, DecodeStatus::kViolation},
                                           LengthCase{"Negative", 0x80000000, DecodeStatus::kViolation},
                                           LengthCase{"AllOnes", 0xffffffff, DecodeStatus::kViolation}),
                         [](const auto& info) { return info.param.name; });

TEST(StartupPacket, SslAndGssRequests) {
  auto ssl = ParseStartupPacket(AsBytes(Packet(kSslRequestCode, "")));
  ASSERT_TRUE(ssl.ok());
  EXPECT_EQ(ssl->kind, StartupKind::kSslRequest);
  auto gss = ParseStartupPacket(AsBytes(Packet(kGssEncRequestCode, "")));
  ASSERT_TRUE(gss.ok());
  EXPECT_EQ(gss->kind, StartupKind::kGssEncRequest);
  EXPECT_FALSE(ParseStartupPacket(AsBytes(Packet(kSslRequestCode, "x"))).ok());
}

TEST(StartupPacket, CancelRequest) {
  std::string keys;
  PutU32(keys, 1234);
  PutU32(keys, 0xdeadbeef);
  auto cancel = ParseStartupPacket(AsBytes(Packet(kCancelRequestCode, keys)));
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->kind, StartupKind::kCancelRequest);
  EXPECT_EQ(cancel->cancel_key, (CancelKey{1234, 0xdeadbeef}));
  EXPECT_FALSE(ParseStartupPacket(AsBytes(Packet(kCancelRequestCode, keys.substr(0, 7)))).ok());
}

TEST(StartupPacket, StartupMessageParams) {
  const std::string bytes = Startup(CStr("user") + CStr("alice") + CStr("database") + CStr("clinic") +
                                    CStr("application_name") + CStr("") + std::string(1, '\0'));
  auto p = ParseStartupPacket(AsBytes(bytes));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->kind, StartupKind::kStartup);
  EXPECT_EQ(p->major, 3);
  EXPECT_EQ(p->params.Get("user"), "alice");
  EXPECT_EQ(p->params.Get("database"), "clinic");
  EXPECT_EQ(p->params.Get("application_name"), "");
  EXPECT_EQ(p->params.Get("options"), std::nullopt);
  int count = 0;
  p->params.ForEach([&](std::string_view, std::string_view) { ++count; });
  EXPECT_EQ(count, 3);
}

struct BadCase {
  std::string name;
  std::string bytes;
  absl::StatusCode code;
};
class BadStartupTest : public ::testing::TestWithParam<BadCase> {};
TEST_P(BadStartupTest, IsRefused) {
  auto p = ParseStartupPacket(AsBytes(GetParam().bytes));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), GetParam().code);
}
INSTANTIATE_TEST_SUITE_P(
    Cases, BadStartupTest,
    ::testing::Values(
        BadCase{"NoUser", Startup(CStr("database") + CStr("x") + std::string(1, '\0')),
                absl::StatusCode::kInvalidArgument},
        BadCase{"MissingTerminator", Startup(CStr("user") + CStr("x")), absl::StatusCode::kInvalidArgument},
        BadCase{"KeyWithoutValue", Startup(CStr("user") + std::string(1, '\0')), absl::StatusCode::kInvalidArgument},
        BadCase{"TrailingBytes", Startup(CStr("user") + CStr("x") + std::string(1, '\0') + "zz"),
                absl::StatusCode::kInvalidArgument},
        BadCase{"Unterminated", Startup("user"), absl::StatusCode::kInvalidArgument},
        BadCase{"ProtocolTwo", Packet(2u << 16, CStr("user") + CStr("x") + std::string(1, '\0')),
                absl::StatusCode::kUnimplemented},
        // PostgreSQL takes the last of a repeated key: pgmask must not check another.
        BadCase{"RepeatedUser",
                Startup(CStr("user") + CStr("a") + CStr("database") + CStr("d") + CStr("user") + CStr("b") +
                        std::string(1, '\0')),
                absl::StatusCode::kInvalidArgument},
        BadCase{"RepeatedReplication",
                Startup(CStr("user") + CStr("a") + CStr("replication") + CStr("off") + CStr("replication") +
                        CStr("database") + std::string(1, '\0')),
                absl::StatusCode::kInvalidArgument},
        BadCase{"LengthDisagrees", Startup(CStr("user") + CStr("x") + std::string(1, '\0')) + "extra",
                absl::StatusCode::kInvalidArgument}),
    [](const auto& info) { return info.param.name; });

TEST(StartupPacket, RandomGarbageNeverCrashes) {
  std::mt19937 rng(42);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (bytes.size() >= 4 && (i % 2) == 0) {
      std::string fixed;
      PutU32(fixed, static_cast<uint32_t>(bytes.size()));
      bytes.replace(0, 4, fixed);
    }
    (void)ParseStartupPacket(AsBytes(bytes));
  }
}

}  // namespace
}  // namespace pgmask::protocol
