// Per-role and per-database session counts, checked when a session logs in (max_user_conn,
// max_db_conn). Shared by every worker thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace pgmask::proxy {

class ConnectionLimits {
 public:
  ConnectionLimits(int max_per_user, int max_per_database)
      : max_per_user_(max_per_user), max_per_database_(max_per_database) {}

  // Counts a session of `user` on `database`, or says why it is refused (empty: admitted). An
  // admitted session must be Released once.
  std::string Admit(const std::string& user, const std::string& database);
  void Release(const std::string& user, const std::string& database);

 private:
  const int max_per_user_;
  const int max_per_database_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> per_user_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> per_database_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgmask::proxy
