// FF1 format-preserving encryption (NIST SP 800-38G) over AES from OpenSSL.
//
// Chosen over FF3-1: FF1 takes tweaks of any length and strings of any length, and SP 800-38G
// Rev. 1 (2024/25 drafts) withdraws FF3/FF3-1 after published attacks.
// The AES key schedule, the BIGNUMs and the scratch buffers live in the object and are reused,
// so a call allocates nothing once warm. Not thread-safe: one per session.
// Halves below 2^64 (up to 19 decimal digits, 16 hex digits or 13 letters each) are computed
// with native integers; longer inputs with OpenSSL BIGNUMs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgmask::policy {

class Ff1 {
 public:
  // Limits of this implementation (the standard allows radix up to 2^16 and longer inputs).
  static constexpr uint32_t kMaxRadix = 256;
  static constexpr size_t kMaxLength = 4096;
  static constexpr size_t kMaxTweakLength = 256;
  // The domain-size floor of the original SP 800-38G: radix^length >= 100.
  static constexpr uint64_t kMinDomain = 100;

  // kBignum always takes the BIGNUM path, so tests can check both paths agree.
  enum class Arithmetic { kAuto, kBignum };

  // `key` is an AES key: 16, 24 or 32 bytes.
  static absl::StatusOr<Ff1> Create(std::string_view key,
                                    Arithmetic arithmetic = Arithmetic::kAuto);

  Ff1(Ff1&&) noexcept;
  Ff1& operator=(Ff1&&) noexcept;
  ~Ff1();

  // Encrypts / decrypts `numerals` (each < radix) in place. Fails on numerals out of range, a
  // domain below kMinDomain, or sizes past the limits above.
  absl::Status Encrypt(uint32_t radix, std::span<const uint8_t> tweak,
                       std::span<uint8_t> numerals);
  absl::Status Decrypt(uint32_t radix, std::span<const uint8_t> tweak,
                       std::span<uint8_t> numerals);

  // Whether radix^length reaches kMinDomain.
  static bool DomainLargeEnough(uint32_t radix, size_t length);

 private:
  struct State;
  explicit Ff1(std::unique_ptr<State> state);
  absl::Status Run(bool encrypt, uint32_t radix, std::span<const uint8_t> tweak,
                   std::span<uint8_t> numerals);
  std::unique_ptr<State> state_;
};

}  // namespace pgmask::policy
