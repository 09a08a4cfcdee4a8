// The first packet of a connection (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest):
// DecodeStartupLength on every prefix of the header, then ParseStartupPacket on the packet the
// length names and on the whole input, each in a heap block of exactly its size.
// Input: the bytes a client sends first.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/startup_packet.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {
namespace {

void ParseAndWalk(std::span<const uint8_t> bytes) {
  using namespace protocol;
  const std::vector<uint8_t> packet = ExactCopy(bytes);
  const absl::StatusOr<StartupPacket> parsed = ParseStartupPacket(packet);
  if (!parsed.ok()) return;
  PGMASK_FUZZ_CHECK(packet.size() >= kMinStartupPacket && packet.size() <= kMaxStartupPacket);
  switch (parsed->kind) {
    case StartupKind::kSslRequest:
    case StartupKind::kGssEncRequest: PGMASK_FUZZ_CHECK(packet.size() == 8); return;
    case StartupKind::kCancelRequest: PGMASK_FUZZ_CHECK(packet.size() == 16); return;
    case StartupKind::kStartup: break;
  }
  PGMASK_FUZZ_CHECK(parsed->major == kProtocolMajor);
  size_t pairs = 0;
  parsed->params.ForEach([&](std::string_view key, std::string_view value) {
    PGMASK_FUZZ_CHECK(Within(packet, key) && Within(packet, value));
    PGMASK_FUZZ_CHECK(!key.empty());
    Touch(key);
    Touch(value);
    ++pairs;
  });
  PGMASK_FUZZ_CHECK(pairs > 0);
  const std::optional<std::string_view> user = parsed->params.Get("user");
  PGMASK_FUZZ_CHECK(user.has_value() && Within(packet, *user));
  if (auto db = parsed->params.Get("database")) PGMASK_FUZZ_CHECK(Within(packet, *db));
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask::protocol;
  const std::span<const uint8_t> input(data, size);
  for (size_t n = 0; n <= size && n < 4; ++n) {
    const std::vector<uint8_t> prefix = pgmask::fuzz::ExactCopy(input.first(n));
    PGMASK_FUZZ_CHECK(DecodeStartupLength(prefix).status == DecodeStatus::kNeedMoreData);
  }
  const std::vector<uint8_t> whole = pgmask::fuzz::ExactCopy(input);
  const StartupLength length = DecodeStartupLength(whole);
  if (length.status == DecodeStatus::kFrame) {
    PGMASK_FUZZ_CHECK(length.length >= kMinStartupPacket && length.length <= kMaxStartupPacket);
    if (length.length <= size) pgmask::fuzz::ParseAndWalk(input.first(length.length));
  }
  pgmask::fuzz::ParseAndWalk(input);
  return 0;
}
