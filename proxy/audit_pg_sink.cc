#include "proxy/audit_pg_sink.h"

#include <libpq-fe.h>

#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace pgmask::proxy {
namespace {

constexpr char kTable[] = "pgmask_audit";
constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS pgmask_audit (proxy text NOT NULL, seq bigint NOT NULL, ts timestamptz, "
    "type text NOT NULL, line text NOT NULL, PRIMARY KEY (proxy, seq))";
constexpr char kLastLine[] = "SELECT line FROM pgmask_audit WHERE proxy = $1 ORDER BY seq DESC LIMIT 1";
constexpr char kLastSeq[] = "SELECT coalesce(max(seq), 0) FROM pgmask_audit WHERE proxy = $1";
// The lines arrive as one text, '\n' between them (a serialized JSON line never holds one).
constexpr char kInsert[] =
    "INSERT INTO pgmask_audit (proxy, seq, ts, type, line) "
    "SELECT $1, (l::json->>'seq')::bigint, (l::json->>'ts')::timestamptz, l::json->>'type', l "
    "FROM unnest(string_to_array($2, E'\\n')) AS l ON CONFLICT (proxy, seq) DO NOTHING";
constexpr char kReadAll[] = "SELECT proxy, line FROM pgmask_audit ORDER BY proxy, seq";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;
struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

// libpq's messages end with a newline.
std::string Message(const char* text) {
  std::string m = text != nullptr ? text : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

absl::StatusOr<Conn> ConnectTo(const std::string& dsn) {
  // The DSN may be key=value or a URI; a timeout given after it applies unless it sets its own.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {dsn.c_str(), "5", "pgmask-audit", nullptr};
  Conn conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::UnavailableError("audit database: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrFormat("audit database: %s", Message(PQerrorMessage(conn.get()))));
  }
  return conn;
}

absl::StatusOr<Result> Exec(PGconn* conn, const char* sql, std::vector<const char*> params, ExecStatusType want) {
  Result r(PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0));
  if (r == nullptr || PQresultStatus(r.get()) != want) {
    return absl::UnavailableError(absl::StrFormat(
        "audit database: %s", Message(r != nullptr ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn))));
  }
  return r;
}

std::string WithoutNewline(std::string line) {
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

}  // namespace

AuditPgSink::AuditPgSink(AuditPgSinkOptions options, AuditChain chain)
    : AuditQueuedWriter(options, "audit database", "the audit database", std::move(chain)),
      options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<AuditPgSink>> AuditPgSink::Open(AuditPgSinkOptions options, const policy::Key& key) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("the audit database DSN is empty");
  if (options.proxy.empty()) options.proxy = AuditHostName();
  if (options.max_queued == 0) options.max_queued = 1;
  absl::StatusOr<AuditChain> chain = AuditChain::Create(key, options.proxy);
  if (!chain.ok()) return chain.status();
  std::unique_ptr<AuditPgSink> sink(new AuditPgSink(std::move(options), *std::move(chain)));
  if (absl::Status s = sink->Connect(); !s.ok()) return s;
  absl::StatusOr<Result> created = Exec(sink->conn_, kCreateTable, {}, PGRES_COMMAND_OK);
  if (!created.ok()) return created.status();
  absl::StatusOr<Result> last = Exec(sink->conn_, kLastLine, {sink->options_.proxy.c_str()}, PGRES_TUPLES_OK);
  if (!last.ok()) return last.status();
  std::string previous = "new";
  if (PQntuples(last->get()) == 1) {
    absl::StatusOr<AuditLine> line = ParseAuditLine(PQgetvalue(last->get(), 0, 0));
    if (!line.ok() || !sink->chain_.Authentic(*line)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "audit database: the last record of proxy %s does not authenticate with this audit key: a "
          "different key, or a changed row",
          sink->options_.proxy));
    }
    sink->chain_.set_head({line->seq, line->hmac});
    previous = line->type == "seal" ? "sealed" : "unsealed";
  }
  sink->first_seq_ = sink->chain_.head().seq + 1;
  const std::string start = WithoutNewline(sink->chain_.Append(AuditStartBody(absl::Now(), previous, 0)));
  if (absl::Status s = sink->Insert(start); !s.ok()) return s;
  sink->StartWriter();
  return sink;
}

AuditPgSink::~AuditPgSink() {
  Close().IgnoreError();
  if (conn_ != nullptr) PQfinish(conn_);
}

absl::Status AuditPgSink::Connect() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  absl::StatusOr<Conn> conn = ConnectTo(options_.dsn);
  if (!conn.ok()) return conn.status();
  conn_ = conn->release();
  return absl::OkStatus();
}

absl::Status AuditPgSink::Insert(const std::string& lines) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  absl::StatusOr<Result> r = Exec(conn_, kInsert, {options_.proxy.c_str(), lines.c_str()}, PGRES_COMMAND_OK);
  if (!r.ok() && PQstatus(conn_) != CONNECTION_OK) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  return r.status();
}

absl::Status AuditPgSink::WritePending(bool /*wait: an insert is durable when it returns*/) {
  if (pending_.empty()) return absl::OkStatus();
  std::string lines;
  for (const Pending& p : pending_) lines.append(p.line);
  if (absl::Status s = Insert(WithoutNewline(std::move(lines))); !s.ok()) return s;
  Acknowledge(pending_.size());
  return absl::OkStatus();
}

absl::StatusOr<size_t> AuditPgSink::DurableFront() {
  // An INSERT whose commit went through though its answer was lost with the connection: its
  // lines are in the table as first chained, and stay.
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  absl::StatusOr<Result> r = Exec(conn_, kLastSeq, {options_.proxy.c_str()}, PGRES_TUPLES_OK);
  if (!r.ok()) return r.status();
  uint64_t last = 0;
  if (!absl::SimpleAtoi(PQgetvalue(r->get(), 0, 0), &last)) {
    return absl::InternalError("audit database: the last seq is not a number");
  }
  size_t count = 0;
  while (count < pending_.size() && pending_[count].seq <= last) ++count;
  return count;
}

std::string AuditPgSink::SealBody(absl::Time now) {
  return AuditSealBody(now, AuditSealReason::kShutdown, kTable, first_seq_, chain_.head());
}

absl::StatusOr<AuditTexts> ReadAuditTable(const std::string& dsn) {
  absl::StatusOr<Conn> conn = ConnectTo(dsn);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> rows = Exec(conn->get(), kReadAll, {}, PGRES_TUPLES_OK);
  if (!rows.ok()) return rows.status();
  AuditTexts out;
  for (int i = 0; i < PQntuples(rows->get()); ++i) {
    const std::string proxy = PQgetvalue(rows->get(), i, 0);
    if (out.empty() || out.back().first != proxy) out.emplace_back(proxy, std::string());
    out.back().second.append(PQgetvalue(rows->get(), i, 1));
    out.back().second.push_back('\n');
  }
  return out;
}

}  // namespace pgmask::proxy
