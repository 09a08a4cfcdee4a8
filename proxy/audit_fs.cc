#include "proxy/audit_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"

namespace pgmask::proxy {
namespace {

absl::Status Errno(std::string_view op, std::string_view path, int err) {
  const std::string message = absl::StrFormat("%s %s: %s", op, path, std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS: return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT: return absl::ResourceExhaustedError(message);
    case EEXIST: return absl::AlreadyExistsError(message);
    default: return absl::UnavailableError(message);
  }
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class Posix final : public AuditFileSystem {
 public:
  absl::StatusOr<int> OpenAppend(const std::string& path, bool exclusive) override {
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0);
    const int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) return Errno("open", path, errno);
    return fd;
  }

  absl::StatusOr<int> OpenAgain(int fd) override {
    const std::string self = absl::StrFormat("/proc/self/fd/%d", fd);
    const int again = ::open(self.c_str(), O_WRONLY | O_CLOEXEC);
    if (again < 0) return Errno("open", self, errno);
    return again;
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    std::string out;
    char buf[65536];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        return Errno("read", path, err);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  absl::Status Write(int fd, std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write", "audit file", errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status DataSync(int fd) override {
    if (::fdatasync(fd) != 0) return Errno("fdatasync", "audit file", errno);
    return absl::OkStatus();
  }

  absl::Status Truncate(int fd, uint64_t size) override {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return Errno("ftruncate", "audit file", errno);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size(int fd) override {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Errno("fstat", "audit file", errno);
    return static_cast<uint64_t>(st.st_size);
  }

  void Close(int fd) override { ::close(fd); }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    // RENAME_NOREPLACE: a rotated file is never overwritten.
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
      return Errno("rename", to, errno);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDirectoryOf(const std::string& path) override {
    const std::string dir = DirectoryOf(path);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Errno("fsync", dir, err);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDirectoryOf(const std::string& path) override {
    const std::string dir = DirectoryOf(path);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("opendir", dir, errno);
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    return names;
  }
};

}  // namespace

AuditFileSystem& PosixAuditFileSystem() {
  static Posix* fs = new Posix();
  return *fs;
}

}  // namespace pgmask::proxy
