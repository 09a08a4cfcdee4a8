#include "proxy/break_glass.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "protocol/string_view_bridge.h"
#include "proxy/log.h"
#include "proxy/session_audit.h"
#include "proxy/session_state.h"

namespace pgmask::proxy {
namespace {

constexpr size_t kMaxReason = 200;

struct Token {
  PgQuery__Token kind;
  std::string text;
};

std::vector<Token> Tokens(const std::string& sql, bool& ok) {
  std::vector<Token> out;
  PgQueryScanResult scan = pg_query_scan(sql.c_str());
  ok = scan.error == nullptr;
  if (ok) {
    PgQuery__ScanResult* result =
        pg_query__scan_result__unpack(nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data));
    ok = result != nullptr;
    for (size_t i = 0; ok && i < result->n_tokens; ++i) {
      const PgQuery__ScanToken& t = *result->tokens[i];
      if (t.token == PG_QUERY__TOKEN__SQL_COMMENT || t.token == PG_QUERY__TOKEN__C_COMMENT) continue;
      out.push_back({t.token, sql.substr(t.start, t.end - t.start)});
    }
    if (result != nullptr) pg_query__scan_result__free_unpacked(result, nullptr);
  }
  pg_query_free_scan_result(scan);
  return out;
}

bool Word(const Token& t, std::string_view word) {
  return absl::EqualsIgnoreCase(ToAbsl(t.text), ToAbsl(word));
}

// 'text' with '' for a quote; nullopt for E'', U&'' and dollar quoting, whose escapes the reason
// does not need.
std::optional<std::string> PlainString(const Token& t) {
  if (t.kind != PG_QUERY__TOKEN__SCONST || t.text.size() < 2 || t.text.front() != '\'' || t.text.back() != '\'') {
    return std::nullopt;
  }
  std::string out;
  const std::string_view body = std::string_view(t.text).substr(1, t.text.size() - 2);
  for (size_t i = 0; i < body.size(); ++i) {
    out.push_back(body[i]);
    if (body[i] == '\'') ++i;  // the second quote of ''
  }
  return out;
}

// Matches "pgmask . break_glass" at `i`, case-insensitively (a quoted name is not folded, so
// "pgmask"."break_glass" is the same setting only in lower case).
bool SettingAt(const std::vector<Token>& t, size_t i) {
  auto name = [](const Token& tok, std::string_view want) {
    if (tok.text.size() == want.size() + 2 && tok.text.front() == '"') return tok.text.substr(1, want.size()) == want;
    return absl::EqualsIgnoreCase(ToAbsl(tok.text), ToAbsl(want));
  };
  return i + 2 < t.size() && name(t[i], "pgmask") && t[i + 1].text == "." && name(t[i + 2], "break_glass");
}

}  // namespace

BreakGlassCommand ParseBreakGlassCommand(std::string_view sql) {
  BreakGlassCommand cmd;
  constexpr std::string_view kName = "break_glass";
  const auto found = std::search(sql.begin(), sql.end(), kName.begin(), kName.end(),
                                 [](char a, char b) { return absl::ascii_tolower(a) == b; });
  if (found == sql.end()) return cmd;
  bool ok = false;
  std::vector<Token> t = Tokens(std::string(sql), ok);
  bool mentions = false;
  for (size_t i = 0; i + 2 < t.size(); ++i) mentions = mentions || SettingAt(t, i);
  // SHOW and current_setting read PostgreSQL's placeholder; set_config writes only that, and
  // pgmask acts on nothing but its own SET and RESET forms.
  if (!ok || !mentions || !(Word(t[0], "set") || Word(t[0], "reset"))) return cmd;
  while (!t.empty() && t.back().text == ";") t.pop_back();
  cmd.kind = BreakGlassCommand::Kind::kInvalid;
  cmd.problem =
      "pgmask: statement refused: pgmask.break_glass can only be set alone, with SET pgmask.break_glass = "
      "'reason' or RESET pgmask.break_glass";
  if (Word(t[0], "reset")) {
    if (t.size() == 4 && SettingAt(t, 1)) cmd.kind = BreakGlassCommand::Kind::kEnd;
    return cmd;
  }
  size_t i = 1;
  if (i < t.size() && Word(t[i], "session")) ++i;
  if (!SettingAt(t, i)) return cmd;
  i += 3;
  if (i >= t.size() || !(t[i].text == "=" || Word(t[i], "to"))) return cmd;
  ++i;
  if (i + 1 != t.size()) return cmd;
  if (Word(t[i], "default")) {
    cmd.kind = BreakGlassCommand::Kind::kEnd;
    return cmd;
  }
  const std::optional<std::string> reason = PlainString(t[i]);
  if (!reason) {
    cmd.problem = "pgmask: statement refused: give the break-glass reason as a plain quoted string";
    return cmd;
  }
  cmd.reason = std::string(absl::StripAsciiWhitespace(*reason));
  if (cmd.reason.empty()) {
    cmd.problem = "pgmask: statement refused: break-glass needs a reason: SET pgmask.break_glass = 'INC-123: why'";
    return cmd;
  }
  cmd.kind = BreakGlassCommand::Kind::kStart;
  return cmd;
}

absl::Duration BreakGlassDuration(int max_minutes) {
  absl::Duration d = absl::Minutes(max_minutes);
  const char* cap = std::getenv("PGMASK_BREAK_GLASS_SECONDS");
  double seconds = 0;
  if (cap != nullptr && absl::SimpleAtod(cap, &seconds) && seconds > 0) d = std::min(d, absl::Seconds(seconds));
  return d;
}

std::optional<std::string> BreakGlassRefusal(const SessionState& s) {
  const std::shared_ptr<const policy::Policy>& policy = s.catalog.policy;
  if (policy == nullptr || !policy->break_glass().has_value()) {
    return "pgmask: break-glass is not configured in the policy";
  }
  const policy::BreakGlass& bg = *policy->break_glass();
  bool allowed = false;
  for (const std::string& role : s.catalog.roles) {
    allowed = allowed || std::find(bg.roles.begin(), bg.roles.end(), role) != bg.roles.end();
  }
  if (!allowed) return "pgmask: permission denied: break-glass is not allowed for this role";
  if (s.audit == nullptr) return "pgmask: break-glass needs the audit trail (--audit-file or --audit-dsn)";
  return std::nullopt;
}

std::optional<std::string> StartBreakGlass(SessionState& s, std::string reason) {
  if (std::optional<std::string> refusal = BreakGlassRefusal(s)) return refusal;
  const std::shared_ptr<const policy::Policy>& policy = s.catalog.policy;
  const policy::BreakGlass& bg = *policy->break_glass();
  if (reason.size() > kMaxReason) return "pgmask: the break-glass reason is too long (at most 200 bytes)";
  if (s.transaction_status == 'E') return "pgmask: break-glass cannot start in a failed transaction";
  ExpireBreakGlass(s);
  if (s.break_glass.has_value()) EndBreakGlass(s, "reset");
  const absl::Time now = absl::Now();
  s.break_glass = SessionState::BreakGlass{std::move(reason), now + BreakGlassDuration(bg.max_minutes)};
  s.ApplyActions();
  AuditEvent e;
  e.kind = AuditEventKind::kBreakGlassStart;
  e.time = now;
  e.session = AuditSessionInfoOf(s);
  e.reason = s.break_glass->reason;
  e.expires = s.break_glass->expires;
  e.policy = policy->sha256_hex();
  s.audit->service().Record(e);
  Logf(LogLevel::kWarn, "session=%s break-glass started by %s until %s", s.id, s.user,
       FormatAuditTime(s.break_glass->expires));
  return std::nullopt;
}

void EndBreakGlass(SessionState& s, std::string_view outcome) {
  if (!s.break_glass.has_value()) return;
  absl::Time at = absl::Now();
  if (at >= s.break_glass->expires) {
    outcome = "expired";
    at = s.break_glass->expires;
  }
  s.break_glass.reset();
  s.ApplyActions();
  if (s.audit != nullptr) {
    AuditEvent e;
    e.kind = AuditEventKind::kBreakGlassEnd;
    e.time = at;
    e.session = AuditSessionInfoOf(s);
    e.outcome = std::string(outcome);
    s.audit->service().Record(e);
  }
  Logf(LogLevel::kInfo, "session=%s break-glass ended (%s)", s.id, outcome);
}

void ExpireBreakGlass(SessionState& s) {
  if (s.break_glass.has_value() && absl::Now() >= s.break_glass->expires) EndBreakGlass(s, "expired");
}

}  // namespace pgmask::proxy
