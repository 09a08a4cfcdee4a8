#include "proxy/audit_pg_sink.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {
namespace {

constexpr char kTable[] = "pgmask_audit";
constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS pgmask_audit (proxy text NOT NULL, seq bigint NOT NULL, ts timestamptz, "
    "type text NOT NULL, line text NOT NULL, PRIMARY KEY (proxy, seq))";
constexpr char kLastLine[] = "SELECT line FROM pgmask_audit WHERE proxy = $1 ORDER BY seq DESC LIMIT 1";
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

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "pgmask";
  return name;
}

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
    : options_(std::move(options)), chain_(std::move(chain)) {}

absl::StatusOr<std::unique_ptr<AuditPgSink>> AuditPgSink::Open(AuditPgSinkOptions options, const policy::Key& key) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("the audit database DSN is empty");
  if (options.proxy.empty()) options.proxy = HostName();
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
  sink->writer_ = std::thread([raw = sink.get()] { raw->Run(); });
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

void AuditPgSink::Submit(const AuditRecord& record, Done done) {
  std::string body = AuditRecordBody(record);
  absl::Status answer;
  bool answered = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || closed_) {
      answer = absl::FailedPreconditionError("the audit sink is closed");
      answered = true;
    } else if (health_.queued >= options_.max_queued) {
      ++health_.dropped;
      ++health_.failed;
      ++dropped_since_resume_;
      answer = absl::ResourceExhaustedError(
          absl::StrFormat("the audit queue is full (%d records not yet written); record dropped", health_.queued));
      answered = true;
    } else {
      ++health_.queued;
      if (degraded_) {
        ++health_.failed;
        answer = absl::UnavailableError(
            absl::StrFormat("audit database unavailable: %s", ToStd(health_.last_error.message())));
        answered = true;
        inbound_.push_back({std::move(body), nullptr});
      } else {
        inbound_.push_back({std::move(body), std::move(done)});
      }
      cv_.Signal();
    }
  }
  if (!answered) return;
  if (!absl::IsFailedPrecondition(answer) && options_.listener.failed) options_.listener.failed(1);
  done(std::move(answer));
}

AuditSinkHealth AuditPgSink::Health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

absl::Status AuditPgSink::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || stopping_) {
      mu_.Await(absl::Condition(&closed_));
      return close_status_;
    }
    stopping_ = true;
    cv_.Signal();
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock lock(&mu_);
  closed_ = true;
  return close_status_;
}

void AuditPgSink::Run() {
  while (true) {
    std::deque<Inbound> batch;
    bool stopping = false;
    bool write_due = false;
    absl::Status last_error;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && inbound_.empty()) {
        if (!degraded_) {
          cv_.Wait(&mu_);
        } else if (absl::Now() >= next_retry_) {
          break;
        } else {
          cv_.WaitWithDeadline(&mu_, next_retry_);
        }
      }
      batch.swap(inbound_);
      stopping = stopping_;
      write_due = !degraded_ || absl::Now() >= next_retry_;
      last_error = health_.last_error;
    }
    for (Inbound& in : batch) {
      const bool late = !in.done;
      Chain(in.body, std::move(in.done), /*record=*/true, late);
    }
    if (stopping) {
      FinishOnClose();
      return;
    }
    if (write_due) {
      Flush();
    } else {
      FailPending(last_error);  // records that raced with the failure: answer them now
    }
  }
}

void AuditPgSink::Chain(std::string_view body, Done done, bool record, bool late) {
  Pending p;
  p.line = WithoutNewline(chain_.Append(body));
  p.done = std::move(done);
  p.record = record;
  p.late = late;
  pending_.push_back(std::move(p));
}

absl::Status AuditPgSink::WritePending() {
  if (pending_.empty()) return absl::OkStatus();
  std::string lines;
  for (const Pending& p : pending_) {
    if (!lines.empty()) lines.push_back('\n');
    lines.append(p.line);
  }
  if (absl::Status s = Insert(lines); !s.ok()) return s;
  std::vector<Done> done;
  uint64_t records = 0;
  for (Pending& p : pending_) {
    if (p.record) {
      ++records;
      if (p.late) ++late_written_;
    }
    if (p.done) done.push_back(std::move(p.done));
  }
  pending_.clear();
  {
    absl::MutexLock lock(&mu_);
    health_.written += records;
    health_.queued -= records;
  }
  if (records > 0 && options_.listener.written) options_.listener.written(records);
  for (Done& d : done) d(absl::OkStatus());
  return absl::OkStatus();
}

void AuditPgSink::FailPending(const absl::Status& error) {
  std::vector<Done> done;
  for (Pending& p : pending_) {
    if (!p.done) continue;
    done.push_back(std::move(p.done));
    p.done = nullptr;
    p.late = p.record;
  }
  if (done.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    health_.failed += done.size();
  }
  if (options_.listener.failed) options_.listener.failed(done.size());
  const absl::Status answer =
      absl::UnavailableError(absl::StrFormat("audit record not durable: %s", ToStd(error.message())));
  for (Done& d : done) d(answer);
}

void AuditPgSink::Flush() {
  absl::Status s = WritePending();
  if (s.ok()) {
    bool degraded = false;
    uint64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      degraded = degraded_;
      dropped = dropped_since_resume_;
    }
    if (!degraded) return;
    if (!resumed_chained_) {
      AuditEvent resumed;
      resumed.kind = AuditEventKind::kAuditResumed;
      resumed.time = absl::Now();
      resumed.queued = late_written_;
      resumed.dropped = dropped;
      Chain(AuditRecordBody(resumed), nullptr, /*record=*/false, /*late=*/false);
      resumed_chained_ = true;
    }
    s = WritePending();
    if (s.ok()) {
      resumed_chained_ = false;
      late_written_ = 0;
      if (options_.listener.resumed) options_.listener.resumed();
      absl::MutexLock lock(&mu_);
      degraded_ = false;
      health_.degraded = false;
      dropped_since_resume_ -= dropped;
      return;
    }
  }
  // Degraded before anyone hears of the failure, so whoever does sees the sink degraded.
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !degraded_;
    degraded_ = true;
    health_.degraded = true;
    health_.last_error = s;
    next_retry_ = absl::Now() + options_.retry_interval;
  }
  if (first) {
    uint64_t waiting = 0;
    for (const Pending& p : pending_) waiting += p.record;
    AuditEvent degraded;
    degraded.kind = AuditEventKind::kAuditDegraded;
    degraded.time = absl::Now();
    degraded.reason = std::string(ToStd(s.message()));
    degraded.queued = waiting;
    Chain(AuditRecordBody(degraded), nullptr, /*record=*/false, /*late=*/false);
    if (options_.listener.degraded) options_.listener.degraded(s);
  }
  FailPending(s);
}

void AuditPgSink::FinishOnClose() {
  Chain(AuditSealBody(absl::Now(), AuditSealReason::kShutdown, kTable, first_seq_, chain_.head()), nullptr,
        /*record=*/false, /*late=*/false);
  const absl::Time deadline = absl::Now() + options_.close_timeout;
  absl::Status s;
  while (true) {
    s = WritePending();
    if (s.ok()) break;
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    absl::SleepFor(std::min(options_.retry_interval, deadline - now));
  }
  absl::Status result;
  if (!s.ok()) {
    uint64_t lost = 0;
    for (const Pending& p : pending_) lost += p.record;
    FailPending(s);
    result = absl::DataLossError(absl::StrFormat(
        "%d audit records and the closing seal could not be written to the audit database: %s", lost,
        ToStd(s.message())));
  }
  absl::MutexLock lock(&mu_);
  close_status_ = result;
  closed_ = true;
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
