#include "protocol/sasl_messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;
using testing::CStr;
using testing::Msg;
using testing::PutU32;

std::string Code(uint32_t code) {
  std::string s;
  PutU32(s, code);
  return s;
}

TEST(ParseSaslMechanisms, ReadsTheList) {
  const std::string body = Code(10) + CStr("SCRAM-SHA-256-PLUS") + CStr("SCRAM-SHA-256") + '\0';
  const auto mechanisms = ParseSaslMechanisms(AsBytes(body));
  ASSERT_TRUE(mechanisms.ok()) << mechanisms.status();
  EXPECT_EQ(*mechanisms, (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
}

TEST(ParseSaslMechanisms, RefusesMalformedLists) {
  for (const std::string& body : {std::string(), Code(11) + '\0', Code(10), Code(10) + "SCRAM",
                                  Code(10) + CStr("SCRAM-SHA-256"), Code(10) + CStr("SCRAM-SHA-256") + '\0' + "x",
                                  std::string("\x00\x00", 2)}) {
    EXPECT_FALSE(ParseSaslMechanisms(AsBytes(body)).ok()) << body.size();
  }
}

TEST(ParseSaslData, ReadsTheDataAfterTheCode) {
  const std::string body = Code(11) + "r=abc,s=c2FsdA==,i=4096";
  const auto data = ParseSaslData(AsBytes(body), kAuthenticationSaslContinue);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "r=abc,s=c2FsdA==,i=4096");
  EXPECT_FALSE(ParseSaslData(AsBytes(body), kAuthenticationSaslFinal).ok());
  EXPECT_FALSE(ParseSaslData(AsBytes(std::string("\x00\x00", 2)), kAuthenticationSaslContinue).ok());
  const auto empty = ParseSaslData(AsBytes(Code(12)), kAuthenticationSaslFinal);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(ParseSaslInitialResponse, ReadsMechanismAndResponse) {
  std::string body = CStr("SCRAM-SHA-256") + Code(11) + "n,,n=,r=abc";
  auto initial = ParseSaslInitialResponse(AsBytes(body));
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_EQ(initial->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(initial->response, "n,,n=,r=abc");
  body = CStr("SCRAM-SHA-256") + Code(0xFFFFFFFF);
  initial = ParseSaslInitialResponse(AsBytes(body));
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_FALSE(initial->response.has_value());
}

TEST(ParseSaslInitialResponse, RefusesWrongLengths) {
  for (const std::string& body :
       {std::string(), std::string("SCRAM"), CStr("SCRAM-SHA-256"), CStr("SCRAM-SHA-256") + std::string("\x00\x00", 2),
        CStr("SCRAM-SHA-256") + Code(12) + "n,,n=,r=abc", CStr("SCRAM-SHA-256") + Code(10) + "n,,n=,r=abc",
        CStr("SCRAM-SHA-256") + Code(0xFFFFFFFE), CStr("SCRAM-SHA-256") + Code(0xFFFFFFFF) + "x",
        CStr("SCRAM-SHA-256") + Code(0x7FFFFFFF) + "n,,"}) {
    EXPECT_FALSE(ParseSaslInitialResponse(AsBytes(body)).ok()) << body.size();
  }
}

TEST(WriteSasl, FramesEachMessage) {
  std::string out;
  const std::vector<std::string_view> mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  WriteAuthenticationSasl(out, mechanisms);
  EXPECT_EQ(out, Msg('R', Code(10) + CStr("SCRAM-SHA-256-PLUS") + CStr("SCRAM-SHA-256") + '\0'));
  out.clear();
  WriteAuthenticationSaslData(out, kAuthenticationSaslFinal, "v=abc");
  EXPECT_EQ(out, Msg('R', Code(12) + "v=abc"));
  out.clear();
  WriteSaslInitialResponse(out, "SCRAM-SHA-256", "n,,n=,r=abc");
  EXPECT_EQ(out, Msg('p', CStr("SCRAM-SHA-256") + Code(11) + "n,,n=,r=abc"));
  out.clear();
  WriteSaslResponse(out, "c=biws,r=abc,p=xyz");
  EXPECT_EQ(out, Msg('p', "c=biws,r=abc,p=xyz"));
}

}  // namespace
}  // namespace pgmask::protocol
