#include "proxy/audit_record.h"

#include <boost/json.hpp>

#include "absl/strings/str_format.h"
#include "policy/utf8.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace json = boost::json;

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
  }
  return "unknown";
}

std::string FormatAuditTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
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

json::string Str(std::string_view s) { return json::string(ToValidUtf8(s)); }

json::value OptStr(std::string_view s) {
  if (s.empty()) return nullptr;
  return Str(s);
}

json::value Tls(const std::optional<AuditTlsInfo>& tls) {
  if (!tls.has_value()) return nullptr;
  json::object o;
  o["version"] = Str(tls->version);
  o["cipher"] = Str(tls->cipher);
  return o;
}

void AddSession(const AuditSessionInfo& s, json::object& o) {
  o["session"] = Str(s.session);
  o["user"] = Str(s.user);
  json::array roles;
  for (const std::string& r : s.roles) roles.push_back(Str(r));
  o["roles"] = std::move(roles);
  o["client"] = Str(s.client);
  o["application"] = Str(s.application);
  o["database"] = Str(s.database);
  json::object tls;
  tls["client"] = Tls(s.client_tls);
  tls["upstream"] = Tls(s.upstream_tls);
  o["tls"] = std::move(tls);
}

void AddStatement(const AuditStatement& st, json::object& o) {
  o["ts"] = FormatAuditTime(st.time);
  o["type"] = "statement";
  AddSession(st.session, o);
  o["protocol"] = AuditProtocolName(st.protocol);
  o["command"] = Str(st.command);
  o["fingerprint"] = Str(st.fingerprint);
  o["query"] = Str(st.query);
  json::array columns;
  for (const AuditColumn& c : st.columns) {
    json::object col;
    col["column"] = Str(c.column);
    col["class"] = Str(c.classification);
    col["use"] = AuditColumnUseName(c.use);
    col["action"] = Str(c.action);
    columns.push_back(std::move(col));
  }
  o["columns"] = std::move(columns);
  if (st.rows.has_value()) {
    o["rows"] = *st.rows;
  } else {
    o["rows"] = nullptr;
  }
  json::array keys;
  for (const AuditTableKeys& k : st.keys) {
    json::object entry;
    entry["table"] = Str(k.table);
    json::array hmacs;
    for (const std::string& h : k.hmac) hmacs.push_back(Str(h));
    entry["hmac"] = std::move(hmacs);
    entry["rows"] = k.rows;
    entry["cap"] = k.cap;
    entry["capped"] = k.capped;
    keys.push_back(std::move(entry));
  }
  o["keys"] = std::move(keys);
  o["outcome"] = AuditOutcomeName(st.outcome);
  o["sqlstate"] = OptStr(st.sqlstate);
  o["duration_ms"] = absl::ToInt64Milliseconds(st.duration);
  o["policy"] = OptStr(st.policy);
  if (st.break_glass.has_value()) {
    o["break_glass"] = Str(*st.break_glass);
  } else {
    o["break_glass"] = nullptr;
  }
}

void AddEvent(const AuditEvent& ev, json::object& o) {
  o["ts"] = FormatAuditTime(ev.time);
  o["type"] = AuditEventKindName(ev.kind);
  if (ev.session.has_value()) AddSession(*ev.session, o);
  if (!ev.outcome.empty()) o["outcome"] = Str(ev.outcome);
  if (!ev.reason.empty()) o["reason"] = Str(ev.reason);
  if (!ev.policy.empty()) o["policy"] = Str(ev.policy);
  if (!ev.sqlstate.empty()) o["sqlstate"] = Str(ev.sqlstate);
  if (ev.expires.has_value()) o["expires"] = FormatAuditTime(*ev.expires);
  if (ev.queued.has_value()) o["queued"] = *ev.queued;
  if (ev.dropped.has_value()) o["dropped"] = *ev.dropped;
}

}  // namespace

std::string AuditRecordBody(const AuditRecord& record) {
  json::object o;
  if (const auto* st = std::get_if<AuditStatement>(&record)) {
    AddStatement(*st, o);
  } else {
    AddEvent(std::get<AuditEvent>(record), o);
  }
  std::string text = json::serialize(o);
  // "{...}" -> "..."
  return text.substr(1, text.size() - 2);
}

}  // namespace pgmask::proxy
