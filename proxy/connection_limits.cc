#include "proxy/connection_limits.h"

#include "absl/strings/str_format.h"

namespace pgmask::proxy {

namespace {
int Count(const absl::flat_hash_map<std::string, int>& counts, const std::string& key) {
  auto it = counts.find(key);
  return it == counts.end() ? 0 : it->second;
}

// Entries are removed at zero so that the maps hold only names with sessions open.
void Decrement(absl::flat_hash_map<std::string, int>& counts, const std::string& key) {
  auto it = counts.find(key);
  if (it == counts.end()) return;
  if (--it->second <= 0) counts.erase(it);
}
}  // namespace

std::string ConnectionLimits::Admit(const std::string& user, const std::string& database) {
  if (max_per_user_ == 0 && max_per_database_ == 0) return {};
  absl::MutexLock lock(&mu_);
  // PostgreSQL's own wording for its per-role and per-database limits.
  if (max_per_user_ > 0 && Count(per_user_, user) >= max_per_user_) {
    return absl::StrFormat("too many connections for role \"%s\"", user);
  }
  if (max_per_database_ > 0 && Count(per_database_, database) >= max_per_database_) {
    return absl::StrFormat("too many connections for database \"%s\"", database);
  }
  ++per_user_[user];
  ++per_database_[database];
  return {};
}

void ConnectionLimits::Release(const std::string& user, const std::string& database) {
  if (max_per_user_ == 0 && max_per_database_ == 0) return;
  absl::MutexLock lock(&mu_);
  Decrement(per_user_, user);
  Decrement(per_database_, database);
}

}  // namespace pgmask::proxy
