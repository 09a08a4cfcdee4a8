#include "proxy/frame_pump.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <functional>
#include <string>
#include <vector>

#include "protocol/message_tags.h"

namespace pgmask::proxy {
namespace {

using protocol::FrameHeader;
using protocol::MessageType;

std::string Msg(char tag, const std::string& body) {
  std::string s(1, tag);
  const uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift : {24, 16, 8, 0}) s.push_back(static_cast<char>(len >> shift));
  return s + body;
}

// Records what the pump showed it; forwards everything.
class RecordingSink : public FrameSink {
 public:
  bool NeedsWholeFrame(const FrameHeader& h) override { return h.type() != MessageType::kCopyData; }
  Verdict OnFrame(const FrameHeader& h, std::span<uint8_t> frame, OutputBatch&) override {
    whole.push_back(h.type());
    sizes.push_back(frame.size());
    return h.type() == MessageType::kTerminate ? Verdict::kForwardAndStop : Verdict::kForward;
  }
  void OnStreamedFrame(const FrameHeader& h) override { streamed.push_back(h.type()); }
  std::vector<MessageType> whole;
  std::vector<size_t> sizes;
  std::vector<MessageType> streamed;
};

// A connected pair of loopback sockets.
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    b = acceptor.accept();
    a.non_blocking(true);
    b.non_blocking(true);
  }
  tcp::socket a;
  tcp::socket b;
};

struct Outcome {
  PumpResult result;
  std::string received;
};

// Writes `input` into the pump's source in chunks of `chunk` bytes (then closes it unless the
// input ends the pump itself), relays, and collects what came out the other side.
// `also` runs alongside, with the pump (to release a hold).
Outcome RunPump(const std::string& input, size_t chunk, FrameSink& sink, uint32_t max_body = 1 << 20,
                std::function<awaitable<void>(FramePump&, asio::io_context&)> also = nullptr) {
  asio::io_context io;
  SocketPair source(io);       // source.a: the peer writing; source.b: what the pump reads
  SocketPair destination(io);  // destination.a: what the pump writes; destination.b: the reader
  Stream pump_source(std::move(source.b));
  Stream pump_destination(std::move(destination.a));
  FramePump pump(pump_source, protocol::Direction::kFrontend, max_body);
  Outcome outcome;
  auto writer = [&]() -> awaitable<void> {
    for (size_t pos = 0; pos < input.size(); pos += chunk) {
      co_await asio::async_write(source.a, asio::buffer(input.data() + pos, std::min(chunk, input.size() - pos)),
                                 kUseTuple);
      asio::steady_timer pause(io, std::chrono::microseconds(200));
      co_await pause.async_wait(kUseTuple);
    }
    source.a.shutdown(tcp::socket::shutdown_send);
  };
  auto relay = [&]() -> awaitable<void> {
    outcome.result = co_await pump.Relay(pump_destination, sink, nullptr);
    pump_destination.socket().shutdown(tcp::socket::shutdown_send);
  };
  auto reader = [&]() -> awaitable<void> {
    char buf[8192];
    for (;;) {
      auto [ec, n] = co_await destination.b.async_read_some(asio::buffer(buf), kUseTuple);
      outcome.received.append(buf, n);
      if (ec) break;
    }
  };
  asio::co_spawn(io, writer(), asio::detached);
  asio::co_spawn(io, relay(), asio::detached);
  asio::co_spawn(io, reader(), asio::detached);
  if (also) asio::co_spawn(io, also(pump, io), asio::detached);
  io.run_for(std::chrono::seconds(20));
  return outcome;
}

const std::string kQuery = Msg('Q', std::string("select 1") + '\0');
const std::string kSync = Msg('S', "");

// A sink that always expects input soon: the pump reads holding its buffer.
class DueSink : public RecordingSink {
 public:
  bool InputDue() override { return true; }
};

// Reading with the buffer held (a reply awaited) relays the same bytes whatever the chunking,
// and sees the peer's end.
TEST(FramePump, ReadsWithTheBufferHeldWhenInputIsDue) {
  const std::string small = kQuery + kSync + kQuery;
  const std::string large = kQuery + Msg('Q', std::string(200000, 'x') + '\0') + kQuery;  // fills reads
  for (const auto& [input, chunk] : {std::pair{small, size_t{1}}, std::pair{small, size_t{5}},
                                     std::pair{large, size_t{1} << 20}}) {
    DueSink sink;
    const Outcome o = RunPump(input, chunk, sink);
    EXPECT_EQ(o.result.end, PumpEnd::kPeerClosed) << chunk;
    EXPECT_EQ(o.received, input) << chunk;
  }
}

TEST(FramePump, ForwardsWholeFramesByteForByte) {
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{5}, size_t{64}, size_t{1} << 20}) {
    RecordingSink sink;
    const std::string input = kQuery + kSync + kQuery;
    const Outcome o = RunPump(input, chunk, sink);
    EXPECT_EQ(o.result.end, PumpEnd::kPeerClosed) << chunk;
    EXPECT_EQ(o.received, input) << chunk;
    EXPECT_EQ(sink.whole, (std::vector<MessageType>{MessageType::kQuery, MessageType::kSync, MessageType::kQuery}))
        << chunk;
  }
}

TEST(FramePump, StreamsLargePassThroughFramesWithoutBufferingThem) {
  RecordingSink sink;
  std::string big(3 * kPooledChunkSize + 17, 'x');
  const std::string input = Msg('d', big) + kSync;
  const Outcome o = RunPump(input, 50000, sink);
  EXPECT_EQ(o.received, input);
  EXPECT_EQ(sink.streamed, std::vector<MessageType>{MessageType::kCopyData});
  EXPECT_EQ(sink.whole, std::vector<MessageType>{MessageType::kSync});
}

TEST(FramePump, BuffersLargeFramesTheSinkMustSeeWhole) {
  RecordingSink sink;
  const std::string input = Msg('Q', std::string(2 * kPooledChunkSize, 'y') + '\0');
  const Outcome o = RunPump(input, 40000, sink);
  EXPECT_EQ(o.received, input);
  ASSERT_EQ(sink.whole, std::vector<MessageType>{MessageType::kQuery});
  EXPECT_EQ(sink.sizes[0], input.size());
}

TEST(FramePump, StopsAtAViolationWithoutForwardingIt) {
  RecordingSink sink;
  std::string unknown("\x01\x00\x00\x00\x04", 5);
  const Outcome o = RunPump(kQuery + unknown + kQuery, 1 << 20, sink);
  EXPECT_EQ(o.result.end, PumpEnd::kViolation);
  EXPECT_EQ(o.received, kQuery);
}

TEST(FramePump, RefusesMessagesOverTheCap) {
  RecordingSink sink;
  const Outcome o = RunPump(Msg('Q', std::string(5000, 'z')), 1 << 20, sink, /*max_body=*/4096);
  EXPECT_EQ(o.result.end, PumpEnd::kViolation);
  EXPECT_EQ(o.received, "");
}

TEST(FramePump, SinkCanStopAfterForwarding) {
  RecordingSink sink;
  const std::string terminate = Msg('X', "");
  const Outcome o = RunPump(kQuery + terminate + kQuery, 1 << 20, sink);
  EXPECT_EQ(o.result.end, PumpEnd::kStopped);
  EXPECT_EQ(o.received, kQuery + terminate);
}

TEST(FramePump, PeerVanishingMidMessageEndsThePump) {
  RecordingSink sink;
  const Outcome o = RunPump(kQuery + kQuery.substr(0, 7), 1 << 20, sink);
  EXPECT_EQ(o.result.end, PumpEnd::kPeerClosed);
  EXPECT_EQ(o.received, kQuery);
}

// Holds the first Sync it sees (as the client sink does while pgmask reads the catalog),
// writing a message of its own first.
class HoldingSink : public RecordingSink {
 public:
  Verdict OnFrame(const FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) override {
    RecordingSink::OnFrame(h, frame, out);
    if (h.type() != MessageType::kSync || held) return Verdict::kForward;
    held = true;
    out.Emit(injected);
    return Verdict::kHold;
  }
  const std::string injected = Msg('Q', std::string("select 'pgmask'") + '\0');
  bool held = false;
};

TEST(FramePump, AHeldFrameWaitsForReleaseAndIsOfferedAgain) {
  HoldingSink sink;
  bool released_early = false;
  auto release_later = [&](FramePump& pump, asio::io_context& io) -> awaitable<void> {
    asio::steady_timer wait(io, std::chrono::milliseconds(100));
    co_await wait.async_wait(kUseTuple);
    released_early = !sink.held;
    pump.Release();
  };
  const Outcome o = RunPump(kQuery + kSync + kQuery, 1 << 20, sink, 1 << 20, release_later);
  EXPECT_FALSE(released_early);
  EXPECT_EQ(o.result.end, PumpEnd::kPeerClosed);
  // Nothing after the held frame went out before it; the held frame itself went out once.
  EXPECT_EQ(o.received, kQuery + sink.injected + kSync + kQuery);
  EXPECT_EQ(sink.whole, (std::vector<MessageType>{MessageType::kQuery, MessageType::kSync, MessageType::kSync,
                                                  MessageType::kQuery}));
}

// The same hold with kHoldAll (as an audited result waits for its record): what was pending
// before the held frame waits with it, so nothing is written until the release, and then it all
// goes out in order.
class HoldingAllSink : public HoldingSink {
 public:
  Verdict OnFrame(const FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) override {
    const Verdict v = HoldingSink::OnFrame(h, frame, out);
    return v == Verdict::kHold ? Verdict::kHoldAll : v;
  }
  void OnWritten() override { writes_before_release += !released; }
  int writes_before_release = 0;
  bool released = false;
};

TEST(FramePump, HoldAllKeepsWhatWasPendingUntilTheRelease) {
  HoldingAllSink sink;
  auto release_later = [&](FramePump& pump, asio::io_context& io) -> awaitable<void> {
    asio::steady_timer wait(io, std::chrono::milliseconds(100));
    co_await wait.async_wait(kUseTuple);
    sink.released = true;
    pump.Release();
  };
  const Outcome o = RunPump(kQuery + kSync + kQuery, 1 << 20, sink, 1 << 20, release_later);
  EXPECT_TRUE(sink.held);
  EXPECT_EQ(sink.writes_before_release, 0);
  EXPECT_EQ(o.result.end, PumpEnd::kPeerClosed);
  EXPECT_EQ(o.received, kQuery + sink.injected + kSync + kQuery);
}

}  // namespace
}  // namespace pgmask::proxy
