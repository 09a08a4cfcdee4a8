// Shared by the audit tests: a temporary directory, a key, sample records, line-level file edits
// and a file system whose operations can be made to fail.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/key_file.h"
#include "proxy/audit_fs.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy::testing {

inline std::string MakeTempDir() {
  char name[] = "/tmp/pgmask-audit-XXXXXX";
  const char* dir = mkdtemp(name);
  return dir == nullptr ? std::string("/tmp") : std::string(dir);
}

struct TempDir {
  std::string path = MakeTempDir();
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string File(const std::string& name) const { return path + "/" + name; }
};

inline policy::Key TestKey(char fill = 'k') { return *policy::Key::FromBytes(std::string(32, fill)); }

inline AuditSessionInfo TestSession(std::string user = "analyst") {
  AuditSessionInfo s;
  s.session = "3f2a1b";
  s.user = std::move(user);
  s.roles = {s.user, "staff"};
  s.client = "10.0.0.7:53124";
  s.application = "psql";
  s.database = "clinic";
  return s;
}

inline AuditStatement TestStatement(int n, std::string user = "analyst") {
  AuditStatement st;
  st.time = absl::FromUnixMillis(1714564800000 + n);
  st.session = TestSession(std::move(user));
  st.protocol = AuditProtocol::kExtended;
  st.command = "SELECT";
  st.fingerprint = "a1b2c3d4e5f60718";
  st.query = "SELECT id, ssn FROM patients WHERE id = $1";
  st.columns = {{"public.patients.ssn", "PII", AuditColumnUse::kOutput, "tokenize"}};
  st.rows = n;
  st.outcome = AuditOutcome::kMasked;
  st.duration = absl::Milliseconds(3);
  st.policy = std::string(64, 'e');
  return st;
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

inline void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const std::string& l : lines) out << l << "\n";
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The real file system, with switches that make operations fail (as a full disk would).
class FaultyFileSystem final : public AuditFileSystem {
 public:
  std::atomic<bool> fail_write{false};
  std::atomic<bool> partial_write{false};  // write half the data, then fail
  std::atomic<bool> fail_fsync{false};  // DataSync
  std::atomic<bool> fail_open{false};   // OpenAppend and OpenAgain
  std::atomic<bool> fail_rename{false};
  std::atomic<int> fsync_delay_us{0};
  // Each DataSync first waits up to this long for another to start beside it: overlap then does
  // not depend on the writer getting the CPU before a sync returns.
  std::atomic<int> sync_waits_for_company_us{0};
  std::atomic<int> fsyncs{0};  // DataSync calls
  std::atomic<int> writes{0};
  // The next `hold_syncs` DataSync calls wait until release_syncs is set (fail_fsync is looked at
  // before: a held sync succeeds when released).
  std::atomic<int> hold_syncs{0};
  std::atomic<bool> release_syncs{false};
  std::atomic<int> held_syncs{0};     // DataSync calls waiting now
  std::atomic<int> failed_syncs{0};   // DataSync calls failed by fail_fsync
  std::atomic<int> syncs_running{0};
  std::atomic<int> most_syncs_running{0};  // the most DataSync calls that ran at once

  absl::StatusOr<int> OpenAppend(const std::string& path, bool exclusive) override {
    if (fail_open) return absl::PermissionDeniedError("open: Permission denied (injected)");
    return real_.OpenAppend(path, exclusive);
  }
  absl::StatusOr<int> OpenAgain(int fd) override {
    if (fail_open) return absl::PermissionDeniedError("open: Permission denied (injected)");
    return real_.OpenAgain(fd);
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override { return real_.ReadFile(path); }
  absl::Status Write(int fd, std::string_view data) override {
    if (partial_write) {
      real_.Write(fd, data.substr(0, data.size() / 2)).IgnoreError();
      return absl::ResourceExhaustedError("write: No space left on device (injected)");
    }
    if (fail_write) return absl::ResourceExhaustedError("write: No space left on device (injected)");
    ++writes;
    return real_.Write(fd, data);
  }
  absl::Status DataSync(int fd) override {
    if (fail_fsync) {
      ++failed_syncs;
      return absl::UnavailableError("fdatasync: Input/output error (injected)");
    }
    ++fsyncs;
    const int running = ++syncs_running;
    int most = most_syncs_running;
    while (running > most && !most_syncs_running.compare_exchange_weak(most, running)) {
    }
    int hold = hold_syncs;
    while (hold > 0 && !hold_syncs.compare_exchange_weak(hold, hold - 1)) {
    }
    if (hold > 0) {
      ++held_syncs;
      while (!release_syncs) usleep(1000);
      --held_syncs;
    }
    const absl::Time company_by = absl::Now() + absl::Microseconds(sync_waits_for_company_us.load());
    while (syncs_running < 2 && absl::Now() < company_by) usleep(100);
    if (fsync_delay_us > 0) usleep(fsync_delay_us);
    absl::Status s = real_.DataSync(fd);
    --syncs_running;
    return s;
  }
  absl::Status Truncate(int fd, uint64_t size) override { return real_.Truncate(fd, size); }
  absl::StatusOr<uint64_t> Size(int fd) override { return real_.Size(fd); }
  void Close(int fd) override { real_.Close(fd); }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (fail_rename) return absl::PermissionDeniedError("rename: Permission denied (injected)");
    return real_.Rename(from, to);
  }
  absl::Status SyncDirectoryOf(const std::string& path) override { return real_.SyncDirectoryOf(path); }
  absl::StatusOr<std::vector<std::string>> ListDirectoryOf(const std::string& path) override {
    return real_.ListDirectoryOf(path);
  }

 private:
  AuditFileSystem& real_ = PosixAuditFileSystem();
};

}  // namespace pgmask::proxy::testing
