#include "proxy/policy_store.h"

#include <string_view>

#include "absl/strings/str_split.h"
#include "policy/policy_loader.h"
#include "protocol/string_view_bridge.h"
#include "proxy/log.h"

namespace pgmask::proxy {

bool PolicyStore::FileStamp::operator==(const FileStamp& o) const {
  return device == o.device && inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
         modified.tv_nsec == o.modified.tv_nsec;
}

PolicyStore::FileStamp PolicyStore::Stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

absl::Status PolicyStore::Load(const std::string& path, policy::Keys keys) {
  stamp_ = Stamp(path);
  auto loaded = policy::LoadPolicyFile(path);
  if (!loaded.ok()) return loaded.status();
  if (absl::Status s = policy::CheckKeysAvailable(**loaded, keys); !s.ok()) return s;
  path_ = path;
  keys_ = std::move(keys);
  Logf(LogLevel::kInfo, "policy loaded from %s sha256=%s", path_, (*loaded)->sha256_hex());
  current_.store(*std::move(loaded), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return absl::OkStatus();
}

bool PolicyStore::Reload() {
  if (path_.empty()) return false;
  stamp_ = Stamp(path_);
  auto loaded = policy::LoadPolicyFile(path_);
  absl::Status status = loaded.ok() ? policy::CheckKeysAvailable(**loaded, keys_) : loaded.status();
  if (!status.ok()) {
    rejected_reloads_.fetch_add(1, std::memory_order_relaxed);
    for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
      Logf(LogLevel::kError, "policy reload rejected, keeping the policy in force: %s", ToStd(line));
    }
    return false;
  }
  Logf(LogLevel::kInfo, "policy reloaded from %s sha256=%s", path_, (*loaded)->sha256_hex());
  current_.store(*std::move(loaded), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

bool PolicyStore::ReloadIfChanged() {
  if (path_.empty() || Stamp(path_) == stamp_) return false;
  return Reload();
}

}  // namespace pgmask::proxy
