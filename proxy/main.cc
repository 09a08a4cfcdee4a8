// pgmask command line: subcommands dispatch to their own files.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "proxy/audit_commands.h"
#include "proxy/explain_cli.h"
#include "proxy/policy_commands.h"
#include "proxy/scan_cli.h"
#include "proxy/serve_command.h"

namespace {

constexpr std::string_view kUsage = R"(pgmask - a dynamic data-masking proxy for PostgreSQL

Usage:
  pgmask serve [--config FILE] [--listen HOST:PORT] [--upstream HOST:PORT] [options]
  pgmask check POLICY_FILE
  pgmask detokenize [--token-key-file FILE] [--type TYPE] TOKEN...
  pgmask explain --policy FILE --role ROLE [--upstream HOST:PORT --user USER --dbname DB] [--json] SQL
  pgmask audit verify [--audit-key-file FILE] [--live] FILE...
  pgmask audit who-accessed [--audit-key-file FILE] --table SCHEMA.TABLE --key VALUE (FILE...|--dsn DSN)
  pgmask audit break-glass [--audit-key-file FILE] --since TIME (FILE...|--dsn DSN)
  pgmask scan --upstream HOST:PORT [--user USER] [--dbname DB] [--sample ROWS] [--table-timeout SECONDS]
              [--policy FILE] [--json]     (exit 3: columns that look protected are not in FILE)
  pgmask --version
  pgmask --help

serve options (each also a key of the --config YAML file; flags win):
  --listen HOST:PORT          where clients connect (default 127.0.0.1:6432; port 0 picks one)
  --upstream HOST:PORT        the PostgreSQL server (default 127.0.0.1:5432)
  --threads N                 worker threads, 0 = one per core (default 0)
  --max-client-conn N         client sessions at once; beyond it FATAL 53300 (default 1000)
  --startup-timeout SECONDS   time allowed from connect to ReadyForQuery (default 60)
  --connect-timeout SECONDS   time allowed to connect to the upstream server (default 10)
  --shutdown-grace SECONDS    on SIGTERM/SIGINT, how long sessions may finish (default 30)
  --max-message-size BYTES    largest protocol message accepted (default 1073741823)
  --log-level LEVEL           debug, info, warn or error (default info)
  --log-format FORMAT         plain or json (default plain)
  --admin HOST:PORT|off       HTTP listener for /metrics, /healthz and /readyz (default off)
  --policy FILE               the masking policy (YAML); without it pgmask only relays
  --token-key-file FILE       key for tokenize (else PGMASK_TOKEN_KEY)
  --hash-key-file FILE        key for hash (else PGMASK_HASH_KEY)
  --policy-poll SECONDS       how often the policy file is checked for changes (default 1)
  --catalog-recheck SECONDS   how old a restricted session's catalog may grow before it looks
                              for other connections' DDL (default 10)
  --tls-cert FILE --tls-key FILE
                              TLS towards clients (both or neither; without them SSLRequest is
                              answered 'N'); --tls-require true refuses clients without TLS
  --upstream-sslmode MODE     TLS towards PostgreSQL: disable, prefer, require, verify-ca or
                              verify-full (default prefer); --upstream-sslrootcert FILE for verify-*
  --auth-file FILE            users whose SCRAM login pgmask checks itself, in PgBouncer's
                              userlist.txt format ("user" "SCRAM-SHA-256$..."), so that channel
                              binding works with TLS on both hops (reloaded on SIGHUP)
  --max-user-conn N, --max-db-conn N, --max-startup-conn N
                              sessions per login role, per database, and not yet logged in
                              (default 0: no limit)
  --idle-timeout SECONDS, --idle-in-transaction-timeout SECONDS, --max-session-lifetime SECONDS
                              end sessions idle that long, outside or inside a transaction, or
                              that old (default 0: off)
  --audit-file PATH           the audit trail, hash-chained JSONL; --audit-key-file FILE (else
                              PGMASK_AUDIT_KEY), --audit-rotate-bytes N (default 67108864)
  --audit-dsn DSN             also (or instead) write the trail into this PostgreSQL database
  --audit-on-failure MODE     block (default: protected statements are refused while the trail
                              cannot be written) or allow
SIGHUP reloads the policy, the TLS certificate and the auth file; an invalid one is rejected and
the one in force is kept.
)";

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG, so by default every Mutex::Lock also updates a
  // process-wide lock-order graph under a global lock; release builds skip that (the audit sinks
  // lock per record). Debug builds keep the deadlock check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view command = args.front();
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version" || command == "-V") {
    std::cout << "pgmask " << PGMASK_VERSION << "\n";
    return 0;
  }
  const std::vector<std::string_view> rest(args.begin() + 1, args.end());
  if (command == "serve") return pgmask::proxy::RunServeCommand(rest);
  if (command == "check") return pgmask::proxy::RunCheck(rest);
  if (command == "detokenize") return pgmask::proxy::RunDetokenize(rest);
  if (command == "audit") return pgmask::proxy::RunAudit(rest);
  if (command == "explain") return pgmask::proxy::RunExplain(rest);
  if (command == "scan") return pgmask::proxy::RunScan(rest);
  std::cerr << "pgmask: unknown command \"" << command << "\"; see pgmask --help\n";
  return 2;
}
