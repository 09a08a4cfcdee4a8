// The auth file (--auth-file): the users whose SCRAM login pgmask terminates itself, in
// PgBouncer's userlist.txt format, one user a line:
//   "username" "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
// A '"' inside a name or secret is written '""'; lines starting with ';' or '#' are comments;
// whatever follows the second field is ignored, as PgBouncer ignores it. Entries whose secret is
// not a SCRAM verifier (md5 hashes, plain passwords) are read and skipped: those users keep the
// relayed login. Produced from `SELECT rolname, rolpassword FROM pg_authid`.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proxy/scram_verifier.h"

namespace pgmask::proxy {

inline constexpr size_t kMaxAuthFileBytes = 16 << 20;
inline constexpr size_t kMaxAuthFileLine = 4096;

class AuthFile {
 public:
  // `text`: the file's contents; `path` names it in errors ("path:line: message").
  static absl::StatusOr<AuthFile> Parse(std::string_view text, std::string_view path);
  // Reads `path`, refusing files over kMaxAuthFileBytes, and parses it.
  static absl::StatusOr<AuthFile> Load(const std::string& path);

  // The user's SCRAM verifier; nullopt when the file has none for that user.
  std::optional<scram::Verifier> Find(std::string_view user) const;
  size_t scram_users() const { return verifiers_.size(); }

 private:
  absl::flat_hash_map<std::string, scram::Verifier> verifiers_;
};

// The auth file in force, swapped whole on reload; sessions copy the verifier they use.
class AuthFileStore {
 public:
  // Loads `path`; on error the file in force stays.
  absl::Status Load(const std::string& path);
  // Null before the first successful Load (no --auth-file).
  std::shared_ptr<const AuthFile> current() const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const AuthFile> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgmask::proxy
