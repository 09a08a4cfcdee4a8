// Settings of `pgmask serve`, from a YAML file (--config) and flags; flags win.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "policy/live_catalog.h"
#include "proxy/log.h"

namespace pgmask::proxy {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// What happens to statements touching protected columns when their audit record cannot be made
// durable: refused (block, the default) or served anyway (allow).
enum class AuditOnFailure { kBlock, kAllow };

// libpq's sslmode values that make sense for a proxy's own upstream connection.
enum class UpstreamSslMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };

struct ServeConfig {
  HostPort listen{"127.0.0.1", 6432};
  HostPort upstream{"127.0.0.1", 5432};
  int threads = 0;  // 0: one per core
  int max_client_conn = 1000;
  absl::Duration startup_timeout = absl::Seconds(60);
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration shutdown_grace = absl::Seconds(30);
  // PostgreSQL's own ceiling for one message; pgmask streams pass-through messages, so a large cap
  // does not mean large buffers.
  uint32_t max_message_size = 0x3fffffff;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kPlain;
  std::string policy_file;     // empty: relay everything unchanged
  std::string token_key_file;  // else PGMASK_TOKEN_KEY
  std::string hash_key_file;   // else PGMASK_HASH_KEY
  absl::Duration policy_poll = absl::Seconds(1);  // how often the policy file is checked for changes
  // How old a restricted session's view of the catalog (relations, views, functions) may grow
  // before it checks, at its next statement, whether another connection changed it.
  absl::Duration catalog_recheck = absl::Seconds(10);
  // How long one catalog read may wait for a lock; each of its statements may run twice as long.
  absl::Duration catalog_timeout = policy::kDefaultCatalogTimeout;
  // The admin HTTP listener (/metrics, /healthz, /readyz); nullopt: none.
  std::optional<HostPort> admin;
  // The audit trail (proxy/audit_service.h starts the sinks).
  std::string audit_file;      // empty: no file sink
  std::string audit_key_file;  // else PGMASK_AUDIT_KEY
  std::string audit_dsn;       // empty: no PostgreSQL sink
  uint64_t audit_rotate_bytes = 64ull << 20;
  AuditOnFailure audit_on_failure = AuditOnFailure::kBlock;

  // TLS towards clients: both files, or neither (then SSLRequest is answered 'N'). Read again
  // on SIGHUP.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool tls_require = false;  // refuse startup packets that did not come over TLS
  // TLS towards the upstream server, as libpq's sslmode and sslrootcert.
  UpstreamSslMode upstream_sslmode = UpstreamSslMode::kPrefer;
  std::string upstream_sslrootcert;
  // SCRAM verifiers of the users whose login pgmask terminates (proxy/auth_file.h), so that
  // channel binding works with TLS on both hops. Read again on SIGHUP. Empty: logins relayed.
  std::string auth_file;

  // Limits: 0 means none.
  int max_user_conn = 0;      // sessions per login role
  int max_db_conn = 0;        // sessions per database
  int max_startup_conn = 0;   // connections not yet past their first ReadyForQuery
  absl::Duration idle_timeout = absl::ZeroDuration();                 // idle outside a transaction
  absl::Duration idle_in_transaction_timeout = absl::ZeroDuration();  // idle inside one
  absl::Duration max_session_lifetime = absl::ZeroDuration();
};

// "host:port" or "[v6]:port".
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// Applies the keys of a YAML config file onto `config`. Every error is reported, each as
// "file:line:column: message", in one status.
absl::Status ApplyConfigFile(const std::string& path, ServeConfig& config);

// Applies `serve` flags (after the subcommand). `config_path` receives --config if present, which
// the caller loads first and then applies the flags again on top.
absl::Status ApplyServeFlags(const std::vector<std::string_view>& args, ServeConfig& config,
                             std::string* config_path);

}  // namespace pgmask::proxy
