// Key material for tokenize (AES key for FF1) and hash (HMAC key). Keys never live in the
// policy: they come from a file (--token-key-file, --hash-key-file) or an environment variable
// (PGMASK_TOKEN_KEY, PGMASK_HASH_KEY). Accepted forms, checked in this order:
//   - 32 or 64 hex digits (a 16- or 32-byte key), surrounding whitespace ignored;
//   - exactly 16 or 32 raw bytes.
// A 32-byte key selects AES-256, a 16-byte key AES-128.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgmask::policy {

class Policy;

inline constexpr std::string_view kTokenKeyFlag = "--token-key-file";
inline constexpr std::string_view kTokenKeyEnv = "PGMASK_TOKEN_KEY";
inline constexpr std::string_view kHashKeyFlag = "--hash-key-file";
inline constexpr std::string_view kHashKeyEnv = "PGMASK_HASH_KEY";

// Raw key bytes, wiped from memory when destroyed.
class Key {
 public:
  // `bytes` must be 16 or 32 raw bytes.
  static absl::StatusOr<Key> FromBytes(std::string_view bytes);

  Key(const Key& other) : bytes_(other.bytes_) {}
  Key& operator=(const Key& other);
  Key(Key&& other) noexcept;
  Key& operator=(Key&& other) noexcept;
  ~Key();

  std::string_view bytes() const { return bytes_; }

 private:
  explicit Key(std::string bytes) : bytes_(std::move(bytes)) {}
  void Wipe();
  std::string bytes_;
};

// Parses key material in either accepted form. Messages never include the material.
absl::StatusOr<Key> ParseKeyMaterial(std::string_view material);

absl::StatusOr<Key> LoadKeyFile(const std::string& path);

// NotFoundError when the variable is unset or empty.
absl::StatusOr<Key> KeyFromEnv(const std::string& name);

struct Keys {
  std::optional<Key> token;
  std::optional<Key> hash;
};

// The keys for `pgmask serve`: each from its file when the path is non-empty, else from its
// environment variable when set, else absent. A key that is given but unreadable or malformed
// is an error.
absl::StatusOr<Keys> LoadKeys(const std::string& token_key_file, const std::string& hash_key_file);

// FailedPrecondition naming each key the policy needs but `keys` lacks, and how to give it.
absl::Status CheckKeysAvailable(const Policy& policy, const Keys& keys);

}  // namespace pgmask::policy
