// Helpers shared by the libFuzzer targets in this directory: a cursor over the fuzzer's input,
// a deterministic chunker (the same input always splits the same way, so a crash reproduces),
// and checks that abort loudly so libFuzzer records the input as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

namespace pgmask::fuzz {

// Reads fixed-size choices from the front of the input; past the end every read is 0.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() {
    const uint16_t hi = Byte();
    return static_cast<uint16_t>((hi << 8) | Byte());
  }
  // Up to `n` bytes (fewer at the end of the input).
  std::span<const uint8_t> Take(size_t n) {
    const size_t k = n < size_ - pos_ ? n : size_ - pos_;
    std::span<const uint8_t> out(data_ + pos_, k);
    pos_ += k;
    return out;
  }
  std::span<const uint8_t> Rest() { return Take(size_ - pos_); }
  bool empty() const { return pos_ == size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Splits a stream into chunk sizes 1..64 (sometimes the whole rest) from a seed byte, the way
// bytes arrive from a socket in arbitrary pieces.
class Chunker {
 public:
  explicit Chunker(uint8_t seed) : state_(0x9e3779b9u ^ (uint32_t{seed} * 0x85ebca6bu)) {}
  size_t Next(size_t remaining) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    const size_t n = (state_ & 7) == 0 ? remaining : 1 + (state_ >> 8) % 64;
    return n < remaining ? n : remaining;
  }

 private:
  uint32_t state_;
};

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

#define PGMASK_FUZZ_CHECK(cond)                                   \
  do {                                                            \
    if (!(cond)) ::pgmask::fuzz::Fail(#cond " (" __FILE__ ")");   \
  } while (0)

// Reads every byte of `s` so ASan reports a view that points outside its buffer.
inline void Touch(std::string_view s) {
  volatile unsigned sum = 0;
  for (char c : s) sum = sum + static_cast<unsigned char>(c);
}

// A copy of `bytes` in a heap block of exactly its size, so a read one byte past the end is an
// ASan report instead of a read of whatever the input buffer holds next.
inline std::vector<uint8_t> ExactCopy(std::span<const uint8_t> bytes) {
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

// Whether `inner` lies within `outer` (an empty view anywhere counts).
inline bool Within(std::span<const uint8_t> outer, const void* p, size_t n) {
  if (n == 0) return true;
  const auto* b = static_cast<const uint8_t*>(p);
  return b >= outer.data() && b + n <= outer.data() + outer.size();
}
inline bool Within(std::span<const uint8_t> outer, std::string_view inner) {
  return Within(outer, inner.data(), inner.size());
}

}  // namespace pgmask::fuzz
