#include "proxy/scram_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy::scram {

namespace {

// PostgreSQL's SCRAM_RAW_NONCE_LEN.
constexpr size_t kRawNonceBytes = 18;

}  // namespace

Key Hmac(const Key& key, std::string_view data) {
  Key out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &size);
  return out;
}

Key Hash(const Key& data) {
  Key out{};
  EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr);
  return out;
}

Key Xor(const Key& a, const Key& b) {
  Key out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

bool Equal(const Key& a, const Key& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::string Base64(std::string_view bytes) { return absl::Base64Escape(ToAbsl(bytes)); }

std::optional<std::string> FromBase64(std::string_view text) {
  std::string out;
  if (!absl::Base64Unescape(ToAbsl(text), &out)) return std::nullopt;
  return out;
}

std::optional<Key> KeyFromBase64(std::string_view text) {
  const std::optional<std::string> bytes = FromBase64(text);
  Key key{};
  if (!bytes || bytes->size() != key.size()) return std::nullopt;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

std::string_view AsText(const Key& key) { return std::string_view(reinterpret_cast<const char*>(key.data()), key.size()); }

absl::StatusOr<std::string> RandomNonce() {
  unsigned char raw[kRawNonceBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) return absl::InternalError("could not generate a SCRAM nonce");
  return Base64(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

}  // namespace pgmask::proxy::scram
