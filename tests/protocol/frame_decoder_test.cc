#include "protocol/frame_decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;
using testing::Msg;
using testing::PutU32;

struct Case {
  std::string name;
  Direction direction;
  std::string bytes;
  DecodeStatus status;
  MessageType type = MessageType::kUnknown;
  size_t frame_size = 0;
};

class FrameDecoderTest : public ::testing::TestWithParam<Case> {};

TEST_P(FrameDecoderTest, Decodes) {
  const Case& c = GetParam();
  const FrameDecoder decoder(c.direction, 1024);
  const DecodeResult r = decoder.Decode(AsBytes(c.bytes));
  ASSERT_EQ(r.status, c.status);
  if (c.status == DecodeStatus::kFrame) {
    EXPECT_EQ(r.header.type(), c.type);
    EXPECT_EQ(r.header.frame_size(), c.frame_size);
  }
  if (c.status == DecodeStatus::kViolation) EXPECT_FALSE(r.violation.empty());
}

std::string WithLength(char tag, uint32_t length) {
  std::string s(1, tag);
  PutU32(s, length);
  return s;
}

const std::string kQuery = Msg('Q', std::string("select 1") + '\0');
const std::string kHundred = Msg('d', std::string(95, 'x'));  // 100 bytes on the wire

INSTANTIATE_TEST_SUITE_P(
    Cases, FrameDecoderTest,
    ::testing::Values(
        Case{"Empty", Direction::kFrontend, "", DecodeStatus::kNeedMoreData},
        Case{"OneByte", Direction::kFrontend, "Q", DecodeStatus::kNeedMoreData},
        Case{"FourBytes", Direction::kFrontend, kQuery.substr(0, 4), DecodeStatus::kNeedMoreData},
        Case{"BareHeaderIsAFrameWithBodyPending", Direction::kFrontend, kQuery.substr(0, 5), DecodeStatus::kFrame,
             MessageType::kQuery, kQuery.size()},
        Case{"NinetyEightOfHundred", Direction::kFrontend, kHundred.substr(0, 98), DecodeStatus::kFrame,
             MessageType::kCopyData, 100},
        Case{"Whole", Direction::kFrontend, kQuery, DecodeStatus::kFrame, MessageType::kQuery, kQuery.size()},
        Case{"TwoMessagesDecodesTheFirst", Direction::kFrontend, kQuery + Msg('S', ""), DecodeStatus::kFrame,
             MessageType::kQuery, kQuery.size()},
        Case{"SyncHasNoBody", Direction::kFrontend, Msg('S', ""), DecodeStatus::kFrame, MessageType::kSync, 5},
        Case{"BackendDataRow", Direction::kBackend, Msg('D', std::string(2, '\0')), DecodeStatus::kFrame,
             MessageType::kDataRow, 7},
        Case{"UnknownTag", Direction::kFrontend, WithLength('\x01', 4), DecodeStatus::kViolation},
        Case{"BackendTagFromFrontend", Direction::kFrontend, WithLength('T', 6), DecodeStatus::kViolation},
        Case{"LengthZero", Direction::kFrontend, WithLength('Q', 0), DecodeStatus::kViolation},
        Case{"LengthThree", Direction::kFrontend, WithLength('Q', 3), DecodeStatus::kViolation},
        Case{"LengthNegative", Direction::kFrontend, WithLength('Q', 0x80000000u), DecodeStatus::kViolation},
        Case{"LengthAllOnes", Direction::kFrontend, WithLength('Q', 0xffffffffu), DecodeStatus::kViolation},
        Case{"LengthMaxInt", Direction::kFrontend, WithLength('Q', 0x7fffffffu), DecodeStatus::kViolation},
        Case{"OverTheCap", Direction::kFrontend, WithLength('Q', 1024 + 5), DecodeStatus::kViolation},
        Case{"AtTheCap", Direction::kFrontend, WithLength('Q', 1024 + 4), DecodeStatus::kFrame, MessageType::kQuery,
             1024 + 5},
        Case{"FixedLengthWrong", Direction::kFrontend, WithLength('S', 5), DecodeStatus::kViolation},
        Case{"ReadyForQueryWrongLength", Direction::kBackend, WithLength('Z', 6), DecodeStatus::kViolation},
        Case{"Garbage", Direction::kBackend, std::string("\xde\xad\xbe\xef\x00\x01", 6), DecodeStatus::kViolation}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(FrameDecoder, WalksConsecutiveFramesCutAnywhere) {
  const std::string stream = kQuery + Msg('S', "") + kHundred + Msg('X', "");
  const FrameDecoder decoder(Direction::kFrontend, 1024);
  // Feed the stream in every possible prefix length and check we never read past what we have.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    size_t pos = 0;
    int frames = 0;
    for (;;) {
      const Bytes rest = AsBytes(std::string_view(stream).substr(pos, cut > pos ? cut - pos : 0));
      const DecodeResult r = decoder.Decode(rest);
      ASSERT_NE(r.status, DecodeStatus::kViolation) << "cut " << cut;
      if (r.status == DecodeStatus::kNeedMoreData || r.header.frame_size() > rest.size()) break;
      pos += r.header.frame_size();
      ++frames;
    }
    const int expected = cut >= stream.size() ? 4 : cut >= kQuery.size() + 5 + 100 ? 3 : cut >= kQuery.size() + 5 ? 2 : cut >= kQuery.size() ? 1 : 0;
    EXPECT_EQ(frames, expected) << "cut " << cut;
  }
}

}  // namespace
}  // namespace pgmask::protocol
