// The few POSIX file operations the audit file sink needs, behind an interface so tests can make
// any of them fail (a full disk or an fsync error cannot be produced on demand otherwise, and the
// tests may run as root, which ignores permissions). Every error is a Status naming the operation,
// the path and strerror; never file content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgmask::proxy {

class AuditFileSystem {
 public:
  virtual ~AuditFileSystem() = default;

  // open(path, O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC [|O_EXCL], 0600).
  virtual absl::StatusOr<int> OpenAppend(const std::string& path, bool exclusive) = 0;
  // The whole file; NotFound when it does not exist.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // A second descriptor of the file `fd` is open on (open of /proc/self/fd/FD, so a rename
  // in between does not matter), with its own open file description: a writeback error is
  // reported once per open file description, so syncs that run at the same time each need their
  // own to each see every error.
  virtual absl::StatusOr<int> OpenAgain(int fd) = 0;
  // Writes all of `data` (retrying short writes).
  virtual absl::Status Write(int fd, std::string_view data) = 0;
  // fdatasync: the file's data, and the metadata needed to read it back (its size), are on disk
  // (not its times). Covers everything written to the file before the call, through any descriptor.
  virtual absl::Status DataSync(int fd) = 0;
  virtual absl::Status Truncate(int fd, uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size(int fd) = 0;
  virtual void Close(int fd) = 0;
  // Fails when `to` exists.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync of the directory holding `path`, so a rename or a new file survives a crash.
  virtual absl::Status SyncDirectoryOf(const std::string& path) = 0;
  // Names (not paths) of the entries of the directory holding `path`.
  virtual absl::StatusOr<std::vector<std::string>> ListDirectoryOf(const std::string& path) = 0;
};

// The real one.
AuditFileSystem& PosixAuditFileSystem();

}  // namespace pgmask::proxy
