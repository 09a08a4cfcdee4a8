#include "proxy/audit_record.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/pg_type.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

std::string_view AuditProtocolName(AuditProtocol p) {
  switch (p) {
    case AuditProtocol::kSimple: return "simple";
    case AuditProtocol::kExtended: return "extended";
    case AuditProtocol::kCopy: return "copy";
  }
  return "simple";
}

std::string_view AuditColumnUseName(AuditColumnUse u) {
  switch (u) {
    case AuditColumnUse::kOutput: return "output";
    case AuditColumnUse::kPredicate: return "predicate";
    case AuditColumnUse::kOther: return "other";
  }
  return "other";
}

std::string_view AuditOutcomeName(AuditOutcome o) {
  switch (o) {
    case AuditOutcome::kAllowed: return "allowed";
    case AuditOutcome::kMasked: return "masked";
    case AuditOutcome::kRefused: return "refused";
    case AuditOutcome::kFailed: return "failed";
  }
  return "failed";
}

std::string_view AuditEventKindName(AuditEventKind k) {
  switch (k) {
    case AuditEventKind::kPolicyReload: return "policy_reload";
    case AuditEventKind::kBreakGlassStart: return "break_glass_start";
    case AuditEventKind::kBreakGlassEnd: return "break_glass_end";
    case AuditEventKind::kAuditDegraded: return "audit_degraded";
    case AuditEventKind::kAuditResumed: return "audit_resumed";
    case AuditEventKind::kConnectionRefused: return "connection_refused";
    case AuditEventKind::kRecordCorrected: return "record_corrected";
  }
  return "unknown";
}

std::string FormatAuditTime(absl::Time t) {
  constexpr char kFormat[] = "%Y-%m-%dT%H:%M:%E3SZ";
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return absl::FormatTime(kFormat, t, absl::UTCTimeZone());
  // By hand, because every record has a timestamp and absl::FormatTime parses its format and
  // consults the time zone on each call. Days to a civil date as in Howard Hinnant's
  // civil_from_days; milliseconds rounded down, as %E3S does.
  const int64_t ms = absl::ToUnixMillis(t);
  constexpr int64_t kDay = 86400000;
  const int64_t days = ms >= 0 ? ms / kDay : -((-ms + kDay - 1) / kDay);
  const int64_t in_day = ms - days * kDay;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  // Other years absl prints with other widths.
  if (year < 1000 || year > 9999) return absl::FormatTime(kFormat, t, absl::UTCTimeZone());
  char buf[] = "YYYY-MM-DDTHH:MM:SS.mmmZ";
  const auto put = [&buf](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) buf[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, in_day / 3600000, 2);
  put(14, in_day / 60000 % 60, 2);
  put(17, in_day / 1000 % 60, 2);
  put(20, in_day % 1000, 3);
  return std::string(buf, sizeof(buf) - 1);
}

bool ParseAuditTime(std::string_view text, absl::Time& out) {
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &out, &err);
}

std::string ToValidUtf8(std::string_view text) {
  if (policy::IsValidUtf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 0;
    for (size_t n = 1; n <= 4 && i + n <= text.size(); ++n) {
      if (policy::IsValidUtf8(text.substr(i, n))) {
        len = n;
        break;
      }
    }
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string SanitizeApplicationName(std::string_view name) {
  bool safe = name.size() <= 64;
  for (const char c : name) {
    if (!safe) break;
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    safe = letter || c == ' ' || c == '.' || c == '_' || c == '-' || c == '/' || c == ':' ||
           c == '(' || c == ')';
  }
  if (safe) return std::string(name);
  return absl::StrFormat("?%d", name.size());
}

namespace {

// Writes one JSON object's members into `out`; the caller adds the braces. Records are built
// straight into text: a tree of boost::json values cost an allocation per member on every
// audited statement.
class Members {
 public:
  explicit Members(std::string& out) : out_(out) {}

  void Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendText(value);
  }
  void OptStr(std::string_view key, std::string_view value) {
    if (value.empty()) {
      Null(key);
    } else {
      Str(key, value);
    }
  }
  void Null(std::string_view key) {
    Key(key);
    out_ += "null";
  }
  void Uint(std::string_view key, uint64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
  }
  void Int(std::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
  }
  void Bool(std::string_view key, bool value) {
    Key(key);
    out_ += value ? "true" : "false";
  }
  void StrArray(std::string_view key, const std::vector<std::string>& values) {
    Key(key);
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_ += ',';
      AppendText(values[i]);
    }
    out_ += ']';
  }
  // A nested object whose members `write(Members&)` writes.
  template <typename Write>
  void Object(std::string_view key, const Write& write) {
    Key(key);
    Braced(write);
  }
  // An array of objects, each written by `write(Members&, item)`.
  template <typename T, typename Write>
  void ObjectArray(std::string_view key, const std::vector<T>& items, Write write) {
    Key(key);
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += ',';
      Braced([&write, &item = items[i]](Members& m) { write(m, item); });
    }
    out_ += ']';
  }

 private:
  void Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    policy::AppendJsonString(key, out_);
    out_ += ':';
  }
  template <typename Write>
  void Braced(const Write& write) {
    out_ += '{';
    Members inner(out_);
    write(inner);
    out_ += '}';
  }
  void AppendText(std::string_view value) {
    if (policy::IsValidUtf8(value)) {
      policy::AppendJsonString(value, out_);
    } else {
      policy::AppendJsonString(ToValidUtf8(value), out_);
    }
  }

  std::string& out_;
  bool first_ = true;
};

void Tls(Members& m, std::string_view key, const std::optional<AuditTlsInfo>& tls) {
  if (!tls.has_value()) {
    m.Null(key);
    return;
  }
  m.Object(key, [&tls](Members& o) {
    o.Str("version", tls->version);
    o.Str("cipher", tls->cipher);
  });
}

void AddSession(const AuditSessionInfo& s, Members& m) {
  m.Str("session", s.session);
  m.Str("user", s.user);
  m.StrArray("roles", s.roles);
  m.Str("client", s.client);
  m.Str("application", s.application);
  m.Str("database", s.database);
  m.Object("tls", [&s](Members& tls) {
    Tls(tls, "client", s.client_tls);
    Tls(tls, "upstream", s.upstream_tls);
  });
}

void AddStatement(const AuditStatement& st, Members& m) {
  m.Str("ts", FormatAuditTime(st.time));
  m.Str("type", "statement");
  AddSession(st.session, m);
  m.Str("protocol", AuditProtocolName(st.protocol));
  m.Str("command", st.command);
  m.Str("fingerprint", st.fingerprint);
  m.Str("query", st.query);
  m.ObjectArray("columns", st.columns, [](Members& col, const AuditColumn& c) {
    col.Str("column", c.column);
    col.Str("class", c.classification);
    col.Str("use", AuditColumnUseName(c.use));
    col.Str("action", c.action);
  });
  if (st.rows.has_value()) {
    m.Uint("rows", *st.rows);
  } else {
    m.Null("rows");
  }
  m.ObjectArray("keys", st.keys, [](Members& entry, const AuditTableKeys& k) {
    entry.Str("table", k.table);
    entry.StrArray("hmac", k.hmac);
    entry.Uint("rows", k.rows);
    entry.Uint("cap", k.cap);
    entry.Bool("capped", k.capped);
  });
  m.Str("outcome", AuditOutcomeName(st.outcome));
  m.OptStr("sqlstate", st.sqlstate);
  m.Int("duration_ms", absl::ToInt64Milliseconds(st.duration));
  m.OptStr("policy", st.policy);
  if (st.break_glass.has_value()) {
    m.Str("break_glass", *st.break_glass);
  } else {
    m.Null("break_glass");
  }
}

void AddEvent(const AuditEvent& ev, Members& m) {
  m.Str("ts", FormatAuditTime(ev.time));
  m.Str("type", AuditEventKindName(ev.kind));
  if (!ev.record.empty()) m.Str("record", ev.record);
  if (ev.session.has_value()) AddSession(*ev.session, m);
  if (!ev.outcome.empty()) m.Str("outcome", ev.outcome);
  if (!ev.reason.empty()) m.Str("reason", ev.reason);
  if (!ev.policy.empty()) m.Str("policy", ev.policy);
  if (!ev.sqlstate.empty()) m.Str("sqlstate", ev.sqlstate);
  if (ev.expires.has_value()) m.Str("expires", FormatAuditTime(*ev.expires));
  if (ev.queued.has_value()) m.Uint("queued", *ev.queued);
  if (ev.dropped.has_value()) m.Uint("dropped", *ev.dropped);
}

}  // namespace

std::string AuditRecordBody(const AuditRecord& record) {
  std::string out;
  out.reserve(1024);
  Members m(out);
  if (const auto* st = std::get_if<AuditStatement>(&record)) {
    AddStatement(*st, m);
  } else {
    AddEvent(std::get<AuditEvent>(record), m);
  }
  return out;
}

AuditEvent AuditRefusalCorrection(std::string id, absl::Time now, std::string reason) {
  AuditEvent correction;
  correction.kind = AuditEventKind::kRecordCorrected;
  correction.time = now;
  correction.record = std::move(id);
  correction.outcome = std::string(AuditOutcomeName(AuditOutcome::kRefused));
  correction.sqlstate = std::string(kAuditUnavailableSqlstate);
  correction.reason = std::move(reason);
  return correction;
}

std::string AuditRefusedBody(std::string_view body) {
  // Only on the rare path of a record written late, so parsing it again costs nothing that
  // matters; boost::json keeps the members in their order.
  std::string text;
  text.reserve(body.size() + 2);
  text.push_back('{');
  text.append(body);
  text.push_back('}');
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::string(body);
  boost::json::object& o = v.as_object();
  const boost::json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string() || type->as_string() != "statement") return std::string(body);
  o["rows"] = nullptr;
  o["keys"] = boost::json::array();
  o["outcome"] = AuditOutcomeName(AuditOutcome::kRefused);
  o["sqlstate"] = kAuditUnavailableSqlstate;
  std::string out = boost::json::serialize(v);
  return out.substr(1, out.size() - 2);
}

}  // namespace pgmask::proxy
