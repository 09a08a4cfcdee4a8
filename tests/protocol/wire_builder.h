// Builds raw protocol bytes for tests, independent of the encoder under test.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_decoder.h"

namespace pgmask::protocol::testing {

inline void PutU32(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v >> 24));
  s.push_back(static_cast<char>(v >> 16));
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v));
}
inline void PutU16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v));
}
// A tagged message with the given body.
inline std::string Msg(char tag, std::string_view body) {
  std::string s(1, tag);
  PutU32(s, static_cast<uint32_t>(body.size() + 4));
  s.append(body);
  return s;
}
inline Bytes AsBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string CStr(std::string_view s) { return std::string(s) + '\0'; }

}  // namespace pgmask::protocol::testing
