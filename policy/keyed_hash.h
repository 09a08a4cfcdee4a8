// SHA-256 and the keyed HMAC-SHA-256 behind the `hash` mask, both from OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pgmask::policy {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA-256 with a fixed key. The key schedule is set up once; each Compute reuses the
// OpenSSL context, so hashing a value allocates nothing. Not thread-safe: one per session.
class KeyedHash {
 public:
  using Digest = std::array<uint8_t, 32>;

  static absl::StatusOr<KeyedHash> Create(std::string_view key);

  KeyedHash(KeyedHash&&) noexcept;
  KeyedHash& operator=(KeyedHash&&) noexcept;
  ~KeyedHash();

  Digest Compute(std::string_view data);

 private:
  struct State;
  explicit KeyedHash(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Appends the first `chars` lower-case hex digits of `digest` (at most 64).
void AppendHex(const KeyedHash::Digest& digest, size_t chars, std::string& out);

}  // namespace pgmask::policy
