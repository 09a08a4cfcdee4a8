// SCRAM-SHA-256's primitives (RFC 5802 section 3, with SHA-256 as RFC 7677 names it) on OpenSSL:
// the few operations pgmask needs to check a client's proof against a stored verifier and to
// log in upstream with the ClientKey that proof reveals. No password is ever hashed here: pgmask
// only ever holds verifiers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pgmask::proxy::scram {

// A SHA-256 output: ClientKey, StoredKey, ServerKey, signatures and proofs.
using Key = std::array<uint8_t, 32>;

// HMAC-SHA-256(key, data).
Key Hmac(const Key& key, std::string_view data);
// SHA-256(data): StoredKey = H(ClientKey).
Key Hash(const Key& data);
Key Xor(const Key& a, const Key& b);
// Constant time: a proof or signature compared byte by byte would tell an attacker how much of
// a forgery is right.
bool Equal(const Key& a, const Key& b);

std::string Base64(std::string_view bytes);
std::optional<std::string> FromBase64(std::string_view text);
// A Key in base64, as SCRAM messages and verifiers carry it; nullopt unless it decodes to 32 bytes.
std::optional<Key> KeyFromBase64(std::string_view text);
std::string_view AsText(const Key& key);

// The random part of a nonce: 18 bytes from OpenSSL's CSPRNG, in base64 (as PostgreSQL's).
absl::StatusOr<std::string> RandomNonce();

}  // namespace pgmask::proxy::scram
