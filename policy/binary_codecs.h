// The per-type halves of binary_value.h that need more than a few lines each, and the
// big-endian helpers they share. Each function replaces its `out` and returns false on input
// the server would not have sent (decoding) or would not accept (encoding).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgmask::policy::binary {

// `bytes.size()` (at most 8) bytes, most significant first.
inline uint64_t LoadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (const char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

inline void AppendBigEndian(uint64_t v, int bytes, std::string& out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
}

bool Float4ToText(std::string_view binary, std::string& out);
bool Float8ToText(std::string_view binary, std::string& out);
bool TextToFloat4(std::string_view text, std::string& out);
bool TextToFloat8(std::string_view text, std::string& out);

bool NumericToText(std::string_view binary, std::string& out);
bool TextToNumeric(int32_t typmod, std::string_view text, std::string& out);

bool DateToText(std::string_view binary, std::string& out);
bool TextToDate(std::string_view text, std::string& out);
bool TimeToText(std::string_view binary, std::string& out);
bool TextToTime(std::string_view text, std::string& out);
// timestamp, or timestamptz when `with_zone` (decoded in UTC, see binary_value.h).
bool TimestampToText(bool with_zone, std::string_view binary, std::string& out);
bool TextToTimestamp(bool with_zone, std::string_view text, std::string& out);

bool InetToText(std::string_view binary, std::string& out);
bool TextToInet(std::string_view text, std::string& out);

}  // namespace pgmask::policy::binary
