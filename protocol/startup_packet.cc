#include "protocol/startup_packet.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "protocol/byte_order.h"

namespace pgmask::protocol {

StartupLength DecodeStartupLength(Bytes data) {
  if (data.size() < 4) return {DecodeStatus::kNeedMoreData, 0, {}};
  const int32_t length = LoadI32(data.data());
  if (length < static_cast<int32_t>(kMinStartupPacket) || length > static_cast<int32_t>(kMaxStartupPacket)) {
    return {DecodeStatus::kViolation, 0, "invalid length of startup packet"};
  }
  return {DecodeStatus::kFrame, static_cast<uint32_t>(length), {}};
}

namespace {

// Checks that `raw` is a sequence of key\0value\0 pairs closed by one more \0 and nothing after it.
bool ValidParams(std::string_view raw) {
  bool expect_value = false;
  while (!raw.empty()) {
    const size_t end = raw.find('\0');
    if (end == std::string_view::npos) return false;
    if (end == 0 && !expect_value) return raw.size() == 1;  // the terminator
    raw.remove_prefix(end + 1);
    expect_value = !expect_value;
  }
  return false;
}

}  // namespace

std::optional<std::string_view> StartupParams::Get(std::string_view key) const {
  std::optional<std::string_view> found;
  ForEach([&](std::string_view k, std::string_view v) {
    if (!found && k == key) found = v;
  });
  return found;
}

absl::StatusOr<StartupPacket> ParseStartupPacket(Bytes packet) {
  const StartupLength length = DecodeStartupLength(packet);
  if (length.status != DecodeStatus::kFrame || length.length != packet.size()) {
    return absl::InvalidArgumentError("invalid length of startup packet");
  }
  const uint32_t code = LoadU32(packet.data() + 4);
  StartupPacket out{};
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (packet.size() != 8) return absl::InvalidArgumentError("invalid length of startup packet");
      out.kind = code == kSslRequestCode ? StartupKind::kSslRequest : StartupKind::kGssEncRequest;
      return out;
    case kCancelRequestCode:
      if (packet.size() != 16) return absl::InvalidArgumentError("invalid length of cancel request");
      out.kind = StartupKind::kCancelRequest;
      out.cancel_key = {LoadU32(packet.data() + 8), LoadU32(packet.data() + 12)};
      return out;
    default:
      break;
  }
  out.kind = StartupKind::kStartup;
  out.major = static_cast<uint16_t>(code >> 16);
  out.minor = static_cast<uint16_t>(code & 0xffff);
  if (out.major != kProtocolMajor) {
    return absl::UnimplementedError(
        absl::StrFormat("unsupported frontend protocol %u.%u", out.major, out.minor));
  }
  const std::string_view raw(reinterpret_cast<const char*>(packet.data()) + 8, packet.size() - 8);
  if (!ValidParams(raw)) return absl::InvalidArgumentError("invalid startup packet layout");
  out.params = StartupParams(raw);
  // PostgreSQL lets the last of a repeated key win; a proxy that read the first would check one
  // user (or replication mode) and let the server log in another.
  std::vector<std::string_view> keys;
  out.params.ForEach([&](std::string_view k, std::string_view) { keys.push_back(k); });
  std::sort(keys.begin(), keys.end());
  if (const auto repeated = std::adjacent_find(keys.begin(), keys.end()); repeated != keys.end()) {
    return absl::InvalidArgumentError(absl::StrFormat("startup parameter \"%s\" is given more than once", *repeated));
  }
  if (!out.params.Get("user").has_value()) {
    return absl::InvalidArgumentError("no PostgreSQL user name specified in startup packet");
  }
  return out;
}

}  // namespace pgmask::protocol
