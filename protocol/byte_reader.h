// Bounds-checked cursor over a message body. Every read reports failure instead of reading past the
// end, so views built on it never trust a length the peer sent.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "protocol/byte_order.h"
#include "protocol/frame_decoder.h"

namespace pgmask::protocol {

class ByteReader {
 public:
  explicit ByteReader(Bytes data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  std::optional<uint8_t> U8() {
    if (remaining() < 1) return std::nullopt;
    return data_[pos_++];
  }
  std::optional<int16_t> I16() {
    if (remaining() < 2) return std::nullopt;
    const int16_t v = LoadI16(data_.data() + pos_);
    pos_ += 2;
    return v;
  }
  std::optional<uint16_t> U16() {
    const auto v = I16();
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
  }
  std::optional<int32_t> I32() {
    if (remaining() < 4) return std::nullopt;
    const int32_t v = LoadI32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  std::optional<uint32_t> U32() {
    const auto v = I32();
    if (!v) return std::nullopt;
    return static_cast<uint32_t>(*v);
  }
  // A NUL-terminated string, returned without its terminator.
  std::optional<std::string_view> CString() {
    // Nothing left, perhaps of an empty span whose data() is null: memchr must not see that.
    if (remaining() == 0) return std::nullopt;
    const void* nul = std::memchr(data_.data() + pos_, 0, remaining());
    if (nul == nullptr) return std::nullopt;
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - (data_.data() + pos_));
    std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len + 1;
    return s;
  }
  std::optional<Bytes> Take(size_t n) {
    if (remaining() < n) return std::nullopt;
    Bytes b = data_.subspan(pos_, n);
    pos_ += n;
    return b;
  }

 private:
  Bytes data_;
  size_t pos_ = 0;
};

}  // namespace pgmask::protocol
