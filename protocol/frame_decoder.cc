#include "protocol/frame_decoder.h"

#include "protocol/byte_order.h"

namespace pgmask::protocol {

DecodeResult FrameDecoder::Decode(Bytes data) const {
  if (data.size() < kFrameHeaderSize) return {DecodeStatus::kNeedMoreData, {}, {}};
  const MessageInfo* info = LookupTag(direction_, data[0]);
  if (info == nullptr) return {DecodeStatus::kViolation, {}, "unknown message type"};
  const int32_t length = LoadI32(data.data() + 1);
  if (length < 4) return {DecodeStatus::kViolation, {}, "invalid message length"};
  const uint32_t body = static_cast<uint32_t>(length) - 4;
  if (info->fixed_length != 0 && static_cast<uint32_t>(length) != info->fixed_length) {
    return {DecodeStatus::kViolation, {}, "invalid message length"};
  }
  if (body > max_body_size_) return {DecodeStatus::kViolation, {}, "message too large"};
  return {DecodeStatus::kFrame, FrameHeader{info, static_cast<uint32_t>(length)}, {}};
}

}  // namespace pgmask::protocol
