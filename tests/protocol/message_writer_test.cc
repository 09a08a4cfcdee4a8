#include "protocol/message_writer.h"

#include <gtest/gtest.h>

#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;

TEST(MessageWriter, ErrorResponseRoundTrips) {
  std::string out;
  WriteErrorResponse(out, {"FATAL", "08P01", "invalid length of startup packet"});
  const FrameDecoder decoder(Direction::kBackend, 1 << 20);
  const DecodeResult r = decoder.Decode(AsBytes(out));
  ASSERT_EQ(r.status, DecodeStatus::kFrame);
  EXPECT_EQ(r.header.type(), MessageType::kErrorResponse);
  ASSERT_EQ(r.header.frame_size(), out.size());
  auto e = ParseErrorNotice(AsBytes(out).subspan(kFrameHeaderSize));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->sqlstate(), "08P01");
  EXPECT_EQ(e->message(), "invalid length of startup packet");
}

TEST(MessageWriter, EmbeddedNulCannotForgeFields) {
  std::string out;
  WriteErrorResponse(out, {"ERROR", "42501", std::string_view("no\0Cfake", 8)});
  auto e = ParseErrorNotice(AsBytes(out).subspan(kFrameHeaderSize));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->message(), "no");
  EXPECT_EQ(e->sqlstate(), "42501");
}

TEST(MessageWriter, KeysAndCancel) {
  std::string out;
  WriteBackendKeyData(out, {0x01020304, 0xa0b0c0d0});
  ASSERT_EQ(out.size(), 13u);
  EXPECT_EQ(out[0], 'K');
  EXPECT_EQ(*ParseBackendKeyData(AsBytes(out).subspan(kFrameHeaderSize)), (CancelKey{0x01020304, 0xa0b0c0d0}));
  std::string cancel;
  WriteCancelRequest(cancel, {5, 6});
  auto parsed = ParseStartupPacket(AsBytes(cancel));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->kind, StartupKind::kCancelRequest);
  EXPECT_EQ(parsed->cancel_key, (CancelKey{5, 6}));
  std::string terminate;
  WriteTerminate(terminate);
  EXPECT_EQ(terminate, std::string("X\0\0\0\x04", 5));
}

}  // namespace
}  // namespace pgmask::protocol
