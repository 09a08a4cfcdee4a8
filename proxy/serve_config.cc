#include "proxy/serve_config.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

using Setter = std::function<absl::Status(std::string_view value, ServeConfig& config)>;

absl::Status ParseInt(std::string_view value, int min, int max, int& out) {
  int v = 0;
  if (!absl::SimpleAtoi(ToAbsl(value), &v) || v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat("expected a whole number from ", min, " to ", max));
  }
  out = v;
  return absl::OkStatus();
}

absl::Status ParseSeconds(std::string_view value, absl::Duration& out) {
  double v = 0;
  if (!absl::SimpleAtod(ToAbsl(value), &v) || !(v > 0) || v > 1e7) {
    return absl::InvalidArgumentError("expected a positive number of seconds");
  }
  out = absl::Seconds(v);
  return absl::OkStatus();
}

// 0 turns the limit off.
absl::Status ParseSecondsOrOff(std::string_view value, absl::Duration& out) {
  if (value == "0") {
    out = absl::ZeroDuration();
    return absl::OkStatus();
  }
  return ParseSeconds(value, out);
}

absl::Status ParseBool(std::string_view value, bool& out) {
  if (value == "true" || value == "on" || value == "yes") {
    out = true;
  } else if (value == "false" || value == "off" || value == "no") {
    out = false;
  } else {
    return absl::InvalidArgumentError("expected true or false");
  }
  return absl::OkStatus();
}

bool ParseUpstreamSslMode(std::string_view text, UpstreamSslMode& mode) {
  static constexpr std::pair<std::string_view, UpstreamSslMode> kModes[] = {
      {"disable", UpstreamSslMode::kDisable},   {"prefer", UpstreamSslMode::kPrefer},
      {"require", UpstreamSslMode::kRequire},   {"verify-ca", UpstreamSslMode::kVerifyCa},
      {"verify-full", UpstreamSslMode::kVerifyFull},
  };
  for (const auto& [name, value] : kModes) {
    if (text == name) {
      mode = value;
      return true;
    }
  }
  return false;
}

absl::Status SetString(std::string_view value, std::string& out) {
  if (value.empty()) return absl::InvalidArgumentError("expected a path");
  out = std::string(value);
  return absl::OkStatus();
}

// One table of settings: the YAML key, its flag and how a value is applied.
struct Setting {
  std::string_view key;
  std::string_view flag;
  Setter apply;
};

const std::vector<Setting>& Settings() {
  static const auto* settings = new std::vector<Setting>{
      {"listen", "--listen",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         auto hp = ParseHostPort(v);
         if (!hp.ok()) return hp.status();
         c.listen = *hp;
         return absl::OkStatus();
       }},
      {"upstream", "--upstream",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         auto hp = ParseHostPort(v);
         if (!hp.ok()) return hp.status();
         if (hp->port == 0) return absl::InvalidArgumentError("the upstream port must not be 0");
         c.upstream = *hp;
         return absl::OkStatus();
       }},
      {"threads", "--threads", [](std::string_view v, ServeConfig& c) { return ParseInt(v, 0, 256, c.threads); }},
      {"max_client_conn", "--max-client-conn",
       [](std::string_view v, ServeConfig& c) { return ParseInt(v, 1, 1000000, c.max_client_conn); }},
      {"startup_timeout", "--startup-timeout",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.startup_timeout); }},
      {"connect_timeout", "--connect-timeout",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.connect_timeout); }},
      {"shutdown_grace", "--shutdown-grace",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.shutdown_grace); }},
      {"max_message_size", "--max-message-size",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         int bytes = 0;
         absl::Status s = ParseInt(v, 1024, 0x3fffffff, bytes);
         if (s.ok()) c.max_message_size = static_cast<uint32_t>(bytes);
         return s;
       }},
      {"policy", "--policy",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.policy_file); }},
      {"token_key_file", "--token-key-file",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.token_key_file); }},
      {"hash_key_file", "--hash-key-file",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.hash_key_file); }},
      {"policy_poll", "--policy-poll",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.policy_poll); }},
      {"catalog_recheck", "--catalog-recheck",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.catalog_recheck); }},
      {"catalog_timeout", "--catalog-timeout",
       [](std::string_view v, ServeConfig& c) { return ParseSeconds(v, c.catalog_timeout); }},
      {"admin", "--admin",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (v == "off") {
           c.admin.reset();
           return absl::OkStatus();
         }
         auto hp = ParseHostPort(v);
         if (!hp.ok()) return hp.status();
         c.admin = *hp;
         return absl::OkStatus();
       }},
      {"log_format", "--log-format",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (!ParseLogFormat(v, c.log_format)) return absl::InvalidArgumentError("expected plain or json");
         return absl::OkStatus();
       }},
      {"log_level", "--log-level",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (!ParseLogLevel(v, c.log_level)) {
           return absl::InvalidArgumentError("expected one of debug, info, warn, error");
         }
         return absl::OkStatus();
       }},
      {"audit_file", "--audit-file",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.audit_file); }},
      {"audit_key_file", "--audit-key-file",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.audit_key_file); }},
      {"audit_dsn", "--audit-dsn",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (v.empty()) return absl::InvalidArgumentError("expected a libpq connection string");
         c.audit_dsn = std::string(v);
         return absl::OkStatus();
       }},
      {"audit_rotate_bytes", "--audit-rotate-bytes",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         uint64_t bytes = 0;
         if (!absl::SimpleAtoi(ToAbsl(v), &bytes) || bytes < 4096 || bytes > (1ull << 40)) {
           return absl::InvalidArgumentError("expected a number of bytes from 4096 to 1099511627776");
         }
         c.audit_rotate_bytes = bytes;
         return absl::OkStatus();
       }},
      {"tls_cert", "--tls-cert", [](std::string_view v, ServeConfig& c) { return SetString(v, c.tls_cert_file); }},
      {"tls_key", "--tls-key", [](std::string_view v, ServeConfig& c) { return SetString(v, c.tls_key_file); }},
      {"tls_require", "--tls-require",
       [](std::string_view v, ServeConfig& c) { return ParseBool(v, c.tls_require); }},
      {"upstream_sslmode", "--upstream-sslmode",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (!ParseUpstreamSslMode(v, c.upstream_sslmode)) {
           return absl::InvalidArgumentError("expected one of disable, prefer, require, verify-ca, verify-full");
         }
         return absl::OkStatus();
       }},
      {"upstream_sslrootcert", "--upstream-sslrootcert",
       [](std::string_view v, ServeConfig& c) { return SetString(v, c.upstream_sslrootcert); }},
      {"auth_file", "--auth-file", [](std::string_view v, ServeConfig& c) { return SetString(v, c.auth_file); }},
      {"max_user_conn", "--max-user-conn",
       [](std::string_view v, ServeConfig& c) { return ParseInt(v, 0, 1000000, c.max_user_conn); }},
      {"max_db_conn", "--max-db-conn",
       [](std::string_view v, ServeConfig& c) { return ParseInt(v, 0, 1000000, c.max_db_conn); }},
      {"max_startup_conn", "--max-startup-conn",
       [](std::string_view v, ServeConfig& c) { return ParseInt(v, 0, 1000000, c.max_startup_conn); }},
      {"idle_timeout", "--idle-timeout",
       [](std::string_view v, ServeConfig& c) { return ParseSecondsOrOff(v, c.idle_timeout); }},
      {"idle_in_transaction_timeout", "--idle-in-transaction-timeout",
       [](std::string_view v, ServeConfig& c) { return ParseSecondsOrOff(v, c.idle_in_transaction_timeout); }},
      {"max_session_lifetime", "--max-session-lifetime",
       [](std::string_view v, ServeConfig& c) { return ParseSecondsOrOff(v, c.max_session_lifetime); }},
      {"audit_on_failure", "--audit-on-failure",
       [](std::string_view v, ServeConfig& c) -> absl::Status {
         if (v == "block") {
           c.audit_on_failure = AuditOnFailure::kBlock;
         } else if (v == "allow") {
           c.audit_on_failure = AuditOnFailure::kAllow;
         } else {
           return absl::InvalidArgumentError("expected block or allow");
         }
         return absl::OkStatus();
       }},
  };
  return *settings;
}

const Setting* FindSetting(std::string_view name, bool by_flag) {
  for (const Setting& s : Settings()) {
    if ((by_flag ? s.flag : s.key) == name) return &s;
  }
  return nullptr;
}

std::string Where(const std::string& path, const YAML::Mark& mark) {
  return absl::StrCat(path, ":", mark.line + 1, ":", mark.column + 1);
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrFormat("expected [address]:port, got \"%s\"", text));
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("expected host:port, got \"%s\"", text));
    }
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  int p = 0;
  if (!absl::SimpleAtoi(ToAbsl(port), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrFormat("invalid port \"%s\"", port));
  }
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

absl::Status ApplyConfigFile(const std::string& path, ServeConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read the config file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Where(path, e.mark), ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(path, root.Mark()), ": expected a mapping of settings"));
  }
  std::vector<std::string> errors;
  absl::flat_hash_map<std::string, bool> seen;
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    const std::string where = Where(path, item.first.Mark());
    if (!seen.try_emplace(key, true).second) {
      errors.push_back(absl::StrCat(where, ": duplicate key \"", key, "\""));
      continue;
    }
    const Setting* setting = FindSetting(key, /*by_flag=*/false);
    if (setting == nullptr) {
      errors.push_back(absl::StrCat(where, ": unknown key \"", key, "\""));
      continue;
    }
    if (!item.second.IsScalar()) {
      errors.push_back(absl::StrCat(Where(path, item.second.Mark()), ": ", key, ": expected a single value"));
      continue;
    }
    const absl::Status s = setting->apply(item.second.Scalar(), config);
    if (!s.ok()) errors.push_back(absl::StrCat(Where(path, item.second.Mark()), ": ", key, ": ", s.message()));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return absl::OkStatus();
}

absl::Status ApplyServeFlags(const std::vector<std::string_view>& args, ServeConfig& config,
                             std::string* config_path) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrFormat("%s: missing value", flag));
      value = args[++i];
    }
    if (flag == "--config") {
      if (config_path != nullptr) *config_path = std::string(value);
      continue;
    }
    const Setting* setting = FindSetting(flag, /*by_flag=*/true);
    if (setting == nullptr) return absl::InvalidArgumentError(absl::StrFormat("unknown option %s", flag));
    const absl::Status s = setting->apply(value, config);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrFormat("%s: %s", flag, ToStd(s.message())));
  }
  return absl::OkStatus();
}

}  // namespace pgmask::proxy
