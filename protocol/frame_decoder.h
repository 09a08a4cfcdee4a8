// Splits a byte stream into typed protocol frames (tag + int32 length + body) without copying.
// Sans-I/O: it only looks at the bytes it is given and never buffers anything itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/message_tags.h"

namespace pgmask::protocol {

using Bytes = std::span<const uint8_t>;

inline constexpr size_t kFrameHeaderSize = 5;  // tag byte + int32 length

struct FrameHeader {
  const MessageInfo* info = nullptr;  // never null in a decoded frame
  uint32_t length = 0;                // the length field: body size + 4
  MessageType type() const { return info->type; }
  size_t frame_size() const { return size_t{length} + 1; }
  size_t body_size() const { return size_t{length} - 4; }
};

enum class DecodeStatus { kNeedMoreData, kFrame, kViolation };

struct DecodeResult {
  DecodeStatus status;
  FrameHeader header;           // valid when status == kFrame
  std::string_view violation;   // a static description when status == kViolation
};

class FrameDecoder {
 public:
  // max_body_size caps every message's body before anyone buffers it.
  FrameDecoder(Direction direction, uint32_t max_body_size)
      : direction_(direction), max_body_size_(max_body_size) {}

  // Looks at the header at the start of `data`. kFrame means the header is valid; the body may
  // still be incomplete (compare header.frame_size() with data.size()).
  DecodeResult Decode(Bytes data) const;

  Direction direction() const { return direction_; }
  uint32_t max_body_size() const { return max_body_size_; }

 private:
  Direction direction_;
  uint32_t max_body_size_;
};

}  // namespace pgmask::protocol
