#include "proxy/cancel_registry.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace pgmask::proxy {
namespace {
uint32_t RandomU32() {
  uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
    // The CSPRNG failing is not recoverable; a guessable cancel key would let anyone cancel queries.
    std::abort();
  }
  return v;
}
}  // namespace

protocol::CancelKey CancelRegistry::Register(const CancelTarget& target) {
  absl::MutexLock lock(&mu_);
  for (;;) {
    // Positive 31-bit process ids: some clients print or store the pid as a signed int.
    const uint32_t pid = (RandomU32() & 0x7fffffff) | 1;
    const uint32_t secret = RandomU32();
    if (by_pid_.try_emplace(pid, Entry{secret, target}).second) return {pid, secret};
  }
}

void CancelRegistry::Unregister(const protocol::CancelKey& key) {
  absl::MutexLock lock(&mu_);
  const auto it = by_pid_.find(key.process_id);
  if (it != by_pid_.end() && it->second.secret == key.secret) by_pid_.erase(it);
}

std::optional<CancelTarget> CancelRegistry::Find(const protocol::CancelKey& key) const {
  absl::MutexLock lock(&mu_);
  const auto it = by_pid_.find(key.process_id);
  if (it == by_pid_.end()) return std::nullopt;
  if (CRYPTO_memcmp(&it->second.secret, &key.secret, sizeof key.secret) != 0) return std::nullopt;
  return it->second.target;
}

}  // namespace pgmask::proxy
