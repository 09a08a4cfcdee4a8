// The sessions living on one worker thread, so shutdown can reach them. Touched only from that
// worker's thread.
#pragma once

#include <vector>

#include "absl/container/flat_hash_set.h"

namespace pgmask::proxy {

class Session;

class SessionList {
 public:
  void Add(Session* s) { sessions_.insert(s); }
  void Remove(Session* s) { sessions_.erase(s); }
  // A copy, so callers may end sessions while walking it.
  std::vector<Session*> Snapshot() const { return {sessions_.begin(), sessions_.end()}; }

 private:
  absl::flat_hash_set<Session*> sessions_;
};

}  // namespace pgmask::proxy
