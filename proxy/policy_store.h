// The policy in force, as an immutable snapshot swapped atomically on reload. A session takes the
// current snapshot when a statement cycle starts, so a reload never changes a running statement.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "policy/key_file.h"
#include "policy/policy.h"

namespace pgmask::proxy {

class PolicyStore {
 public:
  // No policy: pgmask relays everything unchanged.
  PolicyStore() = default;

  // Loads the file and the keys it needs; any error stops startup.
  absl::Status Load(const std::string& path, policy::Keys keys);

  // Loads the file again. An invalid file keeps the policy in force and logs every error.
  // Returns whether a new policy is now in force.
  bool Reload();

  // Reloads when the file's identity, size or modification time changed since the last load.
  bool ReloadIfChanged();

  std::shared_ptr<const policy::Policy> current() const { return current_.load(std::memory_order_acquire); }
  // Bumped by each successful reload; sessions compare it to notice a new policy cheaply.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  const policy::Keys& keys() const { return keys_; }
  // Reloads refused because the new file was invalid (for the metrics).
  uint64_t rejected_reloads() const { return rejected_reloads_.load(std::memory_order_relaxed); }
  bool enabled() const { return !path_.empty(); }

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileStamp& o) const;
  };
  static FileStamp Stamp(const std::string& path);

  std::string path_;
  policy::Keys keys_;
  std::atomic<std::shared_ptr<const policy::Policy>> current_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> rejected_reloads_{0};
  FileStamp stamp_;  // reload calls come from one thread (worker 0)
};

}  // namespace pgmask::proxy
