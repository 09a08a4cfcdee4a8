// Test helper: bytes from a hex string ("0a1b" -> "\x0a\x1b"), for vectors copied from specs
// and from PostgreSQL's own output.
#pragma once

#include <string>
#include <string_view>

namespace pgmask::testing {

inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace pgmask::testing
