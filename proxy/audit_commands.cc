#include "proxy/audit_commands.h"

#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "protocol/string_view_bridge.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_pg_sink.h"
#include "proxy/audit_queries.h"
#include "proxy/audit_record.h"
#include "proxy/audit_verify.h"

namespace pgmask::proxy {
namespace {

constexpr std::string_view kAuditUsage = R"(usage:
  pgmask audit verify [--audit-key-file FILE] [--live] [--accept-unsealed SEQ[,SEQ...]] FILE...
  pgmask audit who-accessed [--audit-key-file FILE] --table SCHEMA.TABLE --key VALUE (FILE...|--dsn DSN)
  pgmask audit break-glass [--audit-key-file FILE] --since TIME (FILE...|--dsn DSN)
The key comes from --audit-key-file or the PGMASK_AUDIT_KEY environment variable. FILE... are
the trail's files in any order (audit.jsonl*); --dsn reads the audit database instead. TIME: 2024-05-01T12:00:00Z, 2024-05-01, 24h, 7d.
verify exits 0 when the trail is intact and complete, 1 on any fault, 3 when it is intact but
pgmask reopened it after a stop without a seal (a crash, or records cut off before a restart)
and that reopen was not accepted with --accept-unsealed SEQ[,SEQ...] (the seqs of the `start`
records verify names); --live accepts a trail still being written (no shutdown seal yet).
)";

struct Parsed {
  std::string key_file;
  bool live = false;
  std::optional<std::string> table;
  std::optional<std::string> row_key;
  std::optional<std::string> since;
  std::optional<std::string> dsn;
  std::optional<std::string> accept_unsealed;
  std::vector<std::string> files;
};

// Flags take a value as the next argument or after '='.
bool Parse(const std::vector<std::string_view>& args, Parsed& p, std::ostream& err) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view flag = args[i];
    if (!flag.starts_with("--")) {
      p.files.emplace_back(flag);
      continue;
    }
    if (flag == "--live") {
      p.live = true;
      continue;
    }
    std::string value;
    if (const size_t eq = flag.find('='); eq != std::string_view::npos) {
      value = std::string(flag.substr(eq + 1));
      flag = flag.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = std::string(args[++i]);
    } else {
      err << "pgmask audit: " << flag << ": missing value\n";
      return false;
    }
    if (flag == kAuditKeyFlag) {
      p.key_file = value;
    } else if (flag == "--table") {
      p.table = value;
    } else if (flag == "--key") {
      p.row_key = value;
    } else if (flag == "--since") {
      p.since = value;
    } else if (flag == "--dsn") {
      p.dsn = value;
    } else if (flag == "--accept-unsealed") {
      p.accept_unsealed = value;
    } else {
      err << "pgmask audit: unknown option " << flag << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int RunAuditCommand(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kAuditUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string_view command = args[0];
  if (command != "verify" && command != "who-accessed" && command != "break-glass") {
    err << "pgmask audit: unknown command \"" << command << "\"\n" << kAuditUsage;
    return 2;
  }
  Parsed p;
  if (!Parse(args, p, err)) {
    err << kAuditUsage;
    return 2;
  }
  if (p.dsn.has_value() && command == "verify") {
    err << "pgmask audit verify: reads the trail's files; the audit database's rows carry the same "
           "HMACs, query them with who-accessed or break-glass --dsn\n";
    return 2;
  }
  if (p.dsn.has_value() && !p.files.empty()) {
    err << "pgmask audit " << command << ": give either --dsn or the trail's files\n";
    return 2;
  }
  if (!p.dsn.has_value() && p.files.empty()) {
    err << "pgmask audit " << command << ": name the trail's files\n" << kAuditUsage;
    return 2;
  }
  absl::StatusOr<policy::Key> key = LoadAuditKey(p.key_file);
  if (!key.ok()) {
    err << "pgmask audit " << command << ": " << ToStd(key.status().message()) << "\n";
    return 2;
  }
  if (command == "verify") {
    if (p.table || p.row_key || p.since) {
      err << "pgmask audit verify: takes only --audit-key-file, --live, --accept-unsealed and files\n";
      return 2;
    }
    AuditVerifyOptions options{.live = p.live};
    if (p.accept_unsealed.has_value()) {
      for (absl::string_view seq : absl::StrSplit(*p.accept_unsealed, ',')) {
        uint64_t n = 0;
        if (!absl::SimpleAtoi(seq, &n) || n == 0) {
          err << "pgmask audit verify: --accept-unsealed takes the seqs of start records: 84 or 84,130\n";
          return 2;
        }
        options.accepted_unsealed.push_back(n);
      }
    }
    const AuditVerifyReport report = VerifyAuditTrail(p.files, *key, options);
    PrintAuditVerifyReport(report, out);
    return AuditVerifyExitStatus(report);
  }
  if (p.accept_unsealed.has_value()) {
    err << "pgmask audit " << command << ": --accept-unsealed is verify's\n";
    return 2;
  }
  AuditTexts texts;
  if (p.dsn.has_value()) {
    absl::StatusOr<AuditTexts> rows = ReadAuditTable(*p.dsn);
    if (!rows.ok()) {
      err << "pgmask audit " << command << ": " << ToStd(rows.status().message()) << "\n";
      return 2;
    }
    for (auto& [proxy, lines] : *rows) texts.emplace_back(absl::StrFormat("audit database (proxy %s)", proxy), std::move(lines));
  }
  if (command == "who-accessed") {
    if (!p.table.has_value() || !p.row_key.has_value() || p.table->empty()) {
      err << "pgmask audit who-accessed: needs --table SCHEMA.TABLE and --key VALUE\n";
      return 2;
    }
    return RunWhoAccessed(p.files, *key, *p.table, *p.row_key, out, err, texts);
  }
  absl::Time since;
  if (!p.since.has_value() || !ParseSince(*p.since, absl::Now(), since)) {
    err << "pgmask audit break-glass: needs --since TIME (2024-05-01T12:00:00Z, 2024-05-01, 24h "
           "or 7d)\n";
    return 2;
  }
  return RunBreakGlassReport(p.files, *key, since, out, err, texts);
}

int RunAudit(const std::vector<std::string_view>& args) {
  return RunAuditCommand(args, std::cout, std::cerr);
}

}  // namespace pgmask::proxy
