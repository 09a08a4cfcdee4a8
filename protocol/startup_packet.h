// The untagged packets a client may send first: StartupMessage, SSLRequest, GSSENCRequest and
// CancelRequest. Lengths are checked before anything is buffered.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "protocol/frame_decoder.h"

namespace pgmask::protocol {

inline constexpr uint32_t kMinStartupPacket = 8;
inline constexpr uint32_t kMaxStartupPacket = 10000;
inline constexpr uint32_t kSslRequestCode = 80877103;
inline constexpr uint32_t kGssEncRequestCode = 80877104;
inline constexpr uint32_t kCancelRequestCode = 80877102;
inline constexpr uint16_t kProtocolMajor = 3;

struct StartupLength {
  DecodeStatus status;
  uint32_t length = 0;  // whole packet, the length field included
  std::string_view violation;
};

// Reads the length prefix of a startup packet; a length outside 8..10000 is a violation.
StartupLength DecodeStartupLength(Bytes data);

struct CancelKey {
  uint32_t process_id = 0;
  uint32_t secret = 0;
  bool operator==(const CancelKey&) const = default;
};

// Zero-copy view of the key/value parameters of a StartupMessage.
class StartupParams {
 public:
  StartupParams() = default;
  explicit StartupParams(std::string_view raw) : raw_(raw) {}

  // The value of `key`, if present.
  std::optional<std::string_view> Get(std::string_view key) const;

  // Calls fn(key, value) for each pair in order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::string_view rest = raw_;
    while (!rest.empty() && rest.front() != '\0') {
      const size_t k = rest.find('\0');
      const std::string_view key = rest.substr(0, k);
      rest.remove_prefix(k + 1);
      const size_t v = rest.find('\0');
      fn(key, rest.substr(0, v));
      rest.remove_prefix(v + 1);
    }
  }

 private:
  std::string_view raw_;  // validated: pairs of NUL-terminated strings, then a final NUL
};

enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancelRequest };

struct StartupPacket {
  StartupKind kind;
  uint16_t major = 0;
  uint16_t minor = 0;
  CancelKey cancel_key;    // kCancelRequest
  StartupParams params;    // kStartup
};

// Parses one whole startup packet (length prefix included). The result views into `packet`.
absl::StatusOr<StartupPacket> ParseStartupPacket(Bytes packet);

}  // namespace pgmask::protocol
