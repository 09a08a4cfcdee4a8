// Maps the cancel keys pgmask hands to clients onto the upstream server's keys, so a CancelRequest
// arriving on a new connection (to any thread) reaches the right backend. Upstream keys never leave
// pgmask.
#pragma once

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "protocol/startup_packet.h"
#include "proxy/asio.h"

namespace pgmask::proxy {

struct CancelTarget {
  tcp::endpoint upstream;
  protocol::CancelKey upstream_key;
};

class CancelRegistry {
 public:
  // Issues a fresh client-facing key for `target`; the process id part is unique among live keys.
  protocol::CancelKey Register(const CancelTarget& target);
  void Unregister(const protocol::CancelKey& key);
  // The target for a key, if both parts match (the secret compared in constant time).
  std::optional<CancelTarget> Find(const protocol::CancelKey& key) const;

 private:
  struct Entry {
    uint32_t secret;
    CancelTarget target;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Entry> by_pid_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgmask::proxy
