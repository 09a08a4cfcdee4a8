#include "policy/keyed_hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "absl/status/status.h"

namespace pgmask::policy {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

std::string Sha256Hex(std::string_view data) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHexDigits[digest[i] >> 4]);
    hex.push_back(kHexDigits[digest[i] & 0xF]);
  }
  return hex;
}

struct KeyedHash::State {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~State() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

KeyedHash::KeyedHash(std::unique_ptr<State> state) : state_(std::move(state)) {}
KeyedHash::KeyedHash(KeyedHash&&) noexcept = default;
KeyedHash& KeyedHash::operator=(KeyedHash&&) noexcept = default;
KeyedHash::~KeyedHash() = default;

absl::StatusOr<KeyedHash> KeyedHash::Create(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty HMAC key");
  auto state = std::make_unique<State>();
  state->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (state->mac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  state->ctx = EVP_MAC_CTX_new(state->mac);
  if (state->ctx == nullptr) return absl::InternalError("cannot allocate an HMAC context");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(state->ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return absl::InternalError("cannot initialise HMAC-SHA-256");
  }
  return KeyedHash(std::move(state));
}

KeyedHash::Digest KeyedHash::Compute(std::string_view data) {
  Digest digest{};
  size_t len = 0;
  // A null key re-initialises with the key already set, skipping the key schedule.
  if (EVP_MAC_init(state_->ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(state_->ctx, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1 ||
      EVP_MAC_final(state_->ctx, digest.data(), &len, digest.size()) != 1) {
    // OpenSSL only fails here on allocation failure; an all-zero digest still masks the value.
    digest.fill(0);
  }
  return digest;
}

void AppendHex(const KeyedHash::Digest& digest, size_t chars, std::string& out) {
  for (size_t i = 0; i < chars && i < digest.size() * 2; ++i) {
    const uint8_t byte = digest[i / 2];
    out.push_back(kHexDigits[i % 2 == 0 ? byte >> 4 : byte & 0xF]);
  }
}

}  // namespace pgmask::policy
