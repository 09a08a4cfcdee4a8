// A SCRAM-SHA-256 verifier as PostgreSQL stores it in pg_authid.rolpassword:
//   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>   (salt and keys in base64)
// It lets pgmask check a client's proof and recover the ClientKey, not derive the password.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/scram_crypto.h"

namespace pgmask::proxy::scram {

struct Verifier {
  int iterations = 0;
  std::string salt;  // raw bytes
  Key stored_key{};
  Key server_key{};
};

// Whether `secret` claims to be a SCRAM-SHA-256 verifier (md5 hashes and plain passwords do not).
bool IsScramSecret(std::string_view secret);

absl::StatusOr<Verifier> ParseVerifier(std::string_view secret);

}  // namespace pgmask::proxy::scram
