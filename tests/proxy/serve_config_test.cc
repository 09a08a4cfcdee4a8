#include "proxy/serve_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmask::proxy {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/pgmask-config-XXXXXX";
  const int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

TEST(HostPort, Parses) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:6432")->port, 6432);
  EXPECT_EQ(ParseHostPort("db.internal:5432")->host, "db.internal");
  EXPECT_EQ(ParseHostPort("[::1]:5432")->host, "::1");
  EXPECT_FALSE(ParseHostPort("127.0.0.1").ok());
  EXPECT_FALSE(ParseHostPort(":5432").ok());
  EXPECT_FALSE(ParseHostPort("h:99999").ok());
  EXPECT_FALSE(ParseHostPort("h:12x").ok());
  EXPECT_FALSE(ParseHostPort("[::1]5432").ok());
}

TEST(ConfigFile, AppliesEveryKey) {
  const std::string path = WriteTemp(R"(listen: 0.0.0.0:7000
upstream: db:5433
threads: 3
max_client_conn: 50
startup_timeout: 2.5
connect_timeout: 1
shutdown_grace: 4
max_message_size: 2048
log_level: warn
)");
  ServeConfig c;
  ASSERT_TRUE(ApplyConfigFile(path, c).ok());
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 7000);
  EXPECT_EQ(c.upstream.host, "db");
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.max_client_conn, 50);
  EXPECT_EQ(c.startup_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(c.shutdown_grace, absl::Seconds(4));
  EXPECT_EQ(c.max_message_size, 2048u);
  EXPECT_EQ(c.log_level, LogLevel::kWarn);
  std::remove(path.c_str());
}

TEST(ConfigFile, ReportsEveryErrorWithLineAndColumn) {
  const std::string path = WriteTemp("threads: many\nbogus: 1\nlisten: nowhere\nthreads: 2\n");
  ServeConfig c;
  const absl::Status s = ApplyConfigFile(path, c);
  ASSERT_FALSE(s.ok());
  const std::string message(s.message());
  EXPECT_NE(message.find(path + ":1:10: threads: expected a whole number"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":2:1: unknown key \"bogus\""), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":3:9: listen: expected host:port"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":4:1: duplicate key \"threads\""), std::string::npos) << message;
  std::remove(path.c_str());
}

TEST(ConfigFile, SyntaxErrorNamesThePlace) {
  const std::string path = WriteTemp("listen: [unclosed\n");
  ServeConfig c;
  const absl::Status s = ApplyConfigFile(path, c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()).rfind(path + ":", 0), 0u) << s.message();
  std::remove(path.c_str());
}

TEST(ConfigFile, MissingFileAndNonMapping) {
  ServeConfig c;
  EXPECT_EQ(ApplyConfigFile("/nonexistent/pgmask.yaml", c).code(), absl::StatusCode::kNotFound);
  const std::string path = WriteTemp("- a\n- b\n");
  EXPECT_FALSE(ApplyConfigFile(path, c).ok());
  std::remove(path.c_str());
}

TEST(Flags, BothSpellingsAndErrors) {
  ServeConfig c;
  std::string config_path;
  ASSERT_TRUE(ApplyServeFlags({"--listen", "127.0.0.1:0", "--threads=2", "--config", "x.yaml"}, c, &config_path).ok());
  EXPECT_EQ(c.listen.port, 0);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(config_path, "x.yaml");
  EXPECT_FALSE(ApplyServeFlags({"--nope", "1"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--threads"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--upstream", "db:0"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--startup-timeout", "-1"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--max-message-size", "10"}, c, nullptr).ok());
}

TEST(ConfigFile, AdminAndLogFormat) {
  ServeConfig defaults;
  EXPECT_FALSE(defaults.admin.has_value());  // no admin listener unless asked for
  EXPECT_EQ(defaults.log_format, LogFormat::kPlain);

  const std::string path = WriteTemp("admin: 0.0.0.0:9187\nlog_format: json\n");
  ServeConfig c;
  ASSERT_TRUE(ApplyConfigFile(path, c).ok());
  ASSERT_TRUE(c.admin.has_value());
  EXPECT_EQ(c.admin->host, "0.0.0.0");
  EXPECT_EQ(c.admin->port, 9187);
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  // A flag wins over the file, and "off" turns the listener off again.
  ASSERT_TRUE(ApplyServeFlags({"--admin", "off", "--log-format=plain"}, c, nullptr).ok());
  EXPECT_FALSE(c.admin.has_value());
  EXPECT_EQ(c.log_format, LogFormat::kPlain);
  std::remove(path.c_str());
}

TEST(ConfigFile, BadAdminAndLogFormatNameThePlace) {
  const std::string path = WriteTemp("log_format: xml\nadmin: 9187\nadmin_port: 1\n");
  ServeConfig c;
  const absl::Status s = ApplyConfigFile(path, c);
  ASSERT_FALSE(s.ok());
  const std::string message(s.message());
  EXPECT_NE(message.find(path + ":1:13: log_format: expected plain or json"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":2:8: admin: expected host:port"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":3:1: unknown key \"admin_port\""), std::string::npos) << message;
  std::remove(path.c_str());

  EXPECT_FALSE(ApplyServeFlags({"--admin", "127.0.0.1:70000"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--log-format", "JSON"}, c, nullptr).ok());
}

TEST(ConfigFile, AuditSettings) {
  const std::string path = WriteTemp(
      "audit_file: /var/log/pgmask/audit.jsonl\naudit_key_file: /etc/pgmask/audit.key\n"
      "audit_dsn: host=audit dbname=audit\naudit_rotate_bytes: 1048576\naudit_on_failure: allow\n");
  ServeConfig c;
  EXPECT_EQ(c.audit_on_failure, AuditOnFailure::kBlock);
  ASSERT_TRUE(ApplyConfigFile(path, c).ok());
  EXPECT_EQ(c.audit_file, "/var/log/pgmask/audit.jsonl");
  EXPECT_EQ(c.audit_key_file, "/etc/pgmask/audit.key");
  EXPECT_EQ(c.audit_dsn, "host=audit dbname=audit");
  EXPECT_EQ(c.audit_rotate_bytes, 1048576u);
  EXPECT_EQ(c.audit_on_failure, AuditOnFailure::kAllow);
  ASSERT_TRUE(ApplyServeFlags({"--audit-on-failure", "block", "--audit-file=/tmp/a.jsonl"}, c, nullptr).ok());
  EXPECT_EQ(c.audit_on_failure, AuditOnFailure::kBlock);
  EXPECT_EQ(c.audit_file, "/tmp/a.jsonl");
  EXPECT_FALSE(ApplyServeFlags({"--audit-on-failure", "ignore"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--audit-rotate-bytes", "100"}, c, nullptr).ok());
  EXPECT_FALSE(ApplyServeFlags({"--audit-rotate-bytes", "64M"}, c, nullptr).ok());
  std::remove(path.c_str());
}

TEST(ConfigFile, TlsAndLimitSettings) {
  ServeConfig defaults;
  EXPECT_EQ(defaults.upstream_sslmode, UpstreamSslMode::kPrefer);
  EXPECT_FALSE(defaults.tls_require);
  EXPECT_EQ(defaults.max_user_conn, 0);
  EXPECT_EQ(defaults.idle_timeout, absl::ZeroDuration());

  const std::string path = WriteTemp(
      "tls_cert: /etc/pgmask/tls.crt\ntls_key: /etc/pgmask/tls.key\ntls_require: true\n"
      "upstream_sslmode: verify-full\nupstream_sslrootcert: /etc/pgmask/root.crt\n"
      "auth_file: /etc/pgmask/userlist.txt\n"
      "max_user_conn: 5\nmax_db_conn: 7\nmax_startup_conn: 9\nidle_timeout: 30\n"
      "idle_in_transaction_timeout: 2.5\nmax_session_lifetime: 3600\n");
  ServeConfig c;
  ASSERT_TRUE(ApplyConfigFile(path, c).ok());
  EXPECT_EQ(c.tls_cert_file, "/etc/pgmask/tls.crt");
  EXPECT_EQ(c.tls_key_file, "/etc/pgmask/tls.key");
  EXPECT_TRUE(c.tls_require);
  EXPECT_EQ(c.upstream_sslmode, UpstreamSslMode::kVerifyFull);
  EXPECT_EQ(c.upstream_sslrootcert, "/etc/pgmask/root.crt");
  EXPECT_EQ(c.auth_file, "/etc/pgmask/userlist.txt");
  EXPECT_EQ(c.max_user_conn, 5);
  EXPECT_EQ(c.max_db_conn, 7);
  EXPECT_EQ(c.max_startup_conn, 9);
  EXPECT_EQ(c.idle_timeout, absl::Seconds(30));
  EXPECT_EQ(c.idle_in_transaction_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(c.max_session_lifetime, absl::Hours(1));
  std::remove(path.c_str());

  // Flags win over the file; 0 turns a timeout off again.
  ASSERT_TRUE(ApplyServeFlags({"--tls-require", "off", "--upstream-sslmode=disable", "--auth-file", "users.txt", "--max-user-conn", "0",
                               "--idle-timeout", "0", "--max-session-lifetime=0.5"},
                              c, nullptr)
                  .ok());
  EXPECT_FALSE(c.tls_require);
  EXPECT_EQ(c.upstream_sslmode, UpstreamSslMode::kDisable);
  EXPECT_EQ(c.auth_file, "users.txt");
  EXPECT_EQ(c.max_user_conn, 0);
  EXPECT_EQ(c.idle_timeout, absl::ZeroDuration());
  EXPECT_EQ(c.max_session_lifetime, absl::Milliseconds(500));
  for (const auto& [flag, mode] : std::vector<std::pair<std::string_view, UpstreamSslMode>>{
           {"prefer", UpstreamSslMode::kPrefer},
           {"require", UpstreamSslMode::kRequire},
           {"verify-ca", UpstreamSslMode::kVerifyCa}}) {
    ASSERT_TRUE(ApplyServeFlags({"--upstream-sslmode", flag}, c, nullptr).ok()) << flag;
    EXPECT_EQ(c.upstream_sslmode, mode) << flag;
  }
}

TEST(ConfigFile, BadTlsAndLimitSettingsNameThePlace) {
  const std::string path = WriteTemp(
      "tls_require: maybe\nupstream_sslmode: allow\nmax_user_conn: -1\nidle_timeout: soon\n"
      "tls_cert: \"\"\nmax_session_lifetime: -5\n");
  ServeConfig c;
  const absl::Status s = ApplyConfigFile(path, c);
  ASSERT_FALSE(s.ok());
  const std::string message(s.message());
  EXPECT_NE(message.find(path + ":1:14: tls_require: expected true or false"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":2:19: upstream_sslmode: expected one of disable, prefer, require, verify-ca, "
                                "verify-full"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(path + ":3:16: max_user_conn: expected a whole number from 0 to 1000000"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(path + ":4:15: idle_timeout: expected a positive number of seconds"), std::string::npos)
      << message;
  EXPECT_NE(message.find(path + ":5:11: tls_cert: expected a path"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":6:23: max_session_lifetime: expected a positive number of seconds"),
            std::string::npos)
      << message;
  std::remove(path.c_str());

  for (const std::vector<std::string_view>& flags : std::vector<std::vector<std::string_view>>{
           {"--tls-require", "1"},
           {"--upstream-sslmode", "VERIFY-FULL"},
           {"--max-db-conn", "many"},
           {"--max-startup-conn", "1000001"},
           {"--idle-in-transaction-timeout", "-1"},
           {"--tls-key", ""},
           {"--upstream-sslrootcert"}}) {
    EXPECT_FALSE(ApplyServeFlags(flags, c, nullptr).ok()) << flags.front();
  }
}

}  // namespace
}  // namespace pgmask::proxy
