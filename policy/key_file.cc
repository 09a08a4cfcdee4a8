#include "policy/key_file.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/policy.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

// Anything bigger than a hex key with some whitespace is not a key file.
constexpr size_t kMaxKeyFileBytes = 1024;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> DecodeHex(std::string_view hex) {
  if (hex.size() != 32 && hex.size() != 64) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return std::nullopt;
    }
    bytes.push_back(static_cast<char>((hi << 4) | lo));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<Key> Key::FromBytes(std::string_view bytes) {
  if (bytes.size() != 16 && bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("a key must be 16 or 32 bytes, not ", bytes.size()));
  }
  return Key(std::string(bytes));
}

Key& Key::operator=(const Key& other) {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}

Key::Key(Key&& other) noexcept : bytes_(other.bytes_) { other.Wipe(); }

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
    other.Wipe();
  }
  return *this;
}

Key::~Key() { Wipe(); }

void Key::Wipe() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
  bytes_.clear();
}

absl::StatusOr<Key> ParseKeyMaterial(std::string_view material) {
  const std::string_view trimmed = ToStd(absl::StripAsciiWhitespace(ToAbsl(material)));
  if (std::optional<std::string> bytes = DecodeHex(trimmed)) {
    absl::StatusOr<Key> key = Key::FromBytes(*bytes);
    OPENSSL_cleanse(bytes->data(), bytes->size());
    return key;
  }
  if (material.size() == 16 || material.size() == 32) return Key::FromBytes(material);
  return absl::InvalidArgumentError(absl::StrCat(
      "key material must be 32 or 64 hex digits, or exactly 16 or 32 raw bytes (got ",
      material.size(), " bytes)"));
}

absl::StatusOr<Key> LoadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the key file"));
  std::string material(kMaxKeyFileBytes + 1, '\0');
  in.read(material.data(), static_cast<std::streamsize>(material.size()));
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": cannot read the key file"));
  material.resize(static_cast<size_t>(in.gcount()));
  absl::StatusOr<Key> key = ParseKeyMaterial(material);
  OPENSSL_cleanse(material.data(), material.size());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<Key> KeyFromEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return absl::NotFoundError(absl::StrCat(name, " is not set"));
  }
  absl::StatusOr<Key> key = ParseKeyMaterial(value);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", key.status().message()));
  }
  return key;
}

namespace {

absl::StatusOr<std::optional<Key>> LoadOneKey(const std::string& file, std::string_view env) {
  if (!file.empty()) {
    absl::StatusOr<Key> key = LoadKeyFile(file);
    if (!key.ok()) return key.status();
    return std::optional<Key>(*std::move(key));
  }
  absl::StatusOr<Key> key = KeyFromEnv(std::string(env));
  if (absl::IsNotFound(key.status())) return std::optional<Key>();
  if (!key.ok()) return key.status();
  return std::optional<Key>(*std::move(key));
}

}  // namespace

absl::StatusOr<Keys> LoadKeys(const std::string& token_key_file,
                              const std::string& hash_key_file) {
  Keys keys;
  absl::StatusOr<std::optional<Key>> token = LoadOneKey(token_key_file, kTokenKeyEnv);
  if (!token.ok()) return token.status();
  keys.token = *std::move(token);
  absl::StatusOr<std::optional<Key>> hash = LoadOneKey(hash_key_file, kHashKeyEnv);
  if (!hash.ok()) return hash.status();
  keys.hash = *std::move(hash);
  return keys;
}

absl::Status CheckKeysAvailable(const Policy& policy, const Keys& keys) {
  std::vector<std::string> missing;
  if (policy.UsesTokenize() && !keys.token.has_value()) {
    missing.push_back(absl::StrCat(
        "the policy uses tokenize, which needs a token key: pass ", ToAbsl(kTokenKeyFlag),
        " FILE or set ", ToAbsl(kTokenKeyEnv), " (64 hex digits for AES-256)"));
  }
  if (policy.UsesHash() && !keys.hash.has_value()) {
    missing.push_back(absl::StrCat("the policy uses hash, which needs a hash key: pass ",
                                   ToAbsl(kHashKeyFlag), " FILE or set ", ToAbsl(kHashKeyEnv),
                                   " (64 hex digits)"));
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(missing, "\n"));
}

}  // namespace pgmask::policy
