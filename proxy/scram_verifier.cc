#include "proxy/scram_verifier.h"

#include "absl/strings/numbers.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy::scram {

namespace {

constexpr std::string_view kScheme = "SCRAM-SHA-256$";

// Splits "a<sep>b" at the first `sep`; nullopt without one.
std::optional<std::pair<std::string_view, std::string_view>> Split(std::string_view text, char sep) {
  const size_t at = text.find(sep);
  if (at == std::string_view::npos) return std::nullopt;
  return std::make_pair(text.substr(0, at), text.substr(at + 1));
}

}  // namespace

bool IsScramSecret(std::string_view secret) { return secret.starts_with(kScheme); }

absl::StatusOr<Verifier> ParseVerifier(std::string_view secret) {
  if (!IsScramSecret(secret)) return absl::InvalidArgumentError("not a SCRAM-SHA-256 verifier");
  const auto parts = Split(secret.substr(kScheme.size()), '$');
  const auto iterations_salt = parts ? Split(parts->first, ':') : std::nullopt;
  const auto keys = parts ? Split(parts->second, ':') : std::nullopt;
  if (!iterations_salt || !keys) {
    return absl::InvalidArgumentError("expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
  }
  Verifier v;
  if (!absl::SimpleAtoi(ToAbsl(iterations_salt->first), &v.iterations) || v.iterations < 1) {
    return absl::InvalidArgumentError("SCRAM verifier: the iteration count is not a positive number");
  }
  std::optional<std::string> salt = FromBase64(iterations_salt->second);
  if (!salt || salt->empty()) return absl::InvalidArgumentError("SCRAM verifier: the salt is not base64");
  v.salt = *std::move(salt);
  const std::optional<Key> stored_key = KeyFromBase64(keys->first);
  const std::optional<Key> server_key = KeyFromBase64(keys->second);
  if (!stored_key || !server_key) {
    return absl::InvalidArgumentError("SCRAM verifier: StoredKey and ServerKey must be 32 bytes in base64");
  }
  v.stored_key = *stored_key;
  v.server_key = *server_key;
  return v;
}

}  // namespace pgmask::proxy::scram
