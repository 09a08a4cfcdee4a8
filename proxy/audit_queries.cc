#include "proxy/audit_queries.h"

#include <boost/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "protocol/string_view_bridge.h"
#include "proxy/audit_reader.h"
#include "proxy/audit_record.h"
#include "proxy/audit_row_keys.h"

namespace pgmask::proxy {
namespace json = boost::json;
namespace {

const json::value* Get(const json::object& o, std::string_view name) {
  return o.if_contains(json::string_view(name.data(), name.size()));
}

std::string Str(const json::object& o, std::string_view name) {
  const json::value* v = Get(o, name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Num(const json::object& o, std::string_view name) {
  const json::value* v = Get(o, name);
  if (v == nullptr) return "-";
  if (v->is_uint64()) return absl::StrFormat("%d", v->as_uint64());
  if (v->is_int64()) return absl::StrFormat("%d", v->as_int64());
  return "-";
}

const json::array* Arr(const json::object& o, std::string_view name) {
  const json::value* v = Get(o, name);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

// A value for a `key=value` field: bare when it has no space or quote, else quoted.
std::string Field(std::string_view value) {
  if (value.empty()) return "-";
  if (value.find_first_of(" \"\\") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Roles(const json::object& o) {
  std::vector<std::string> roles;
  if (const json::array* a = Arr(o, "roles")) {
    for (const json::value& v : *a) {
      if (v.is_string()) roles.emplace_back(v.as_string());
    }
  }
  return roles.empty() ? "-" : absl::StrJoin(roles, ",");
}

std::string Who(const json::object& o) {
  return absl::StrFormat("user=%s roles=%s client=%s application=%s database=%s session=%s",
                         Field(Str(o, "user")), Roles(o), Field(Str(o, "client")),
                         Field(Str(o, "application")), Field(Str(o, "database")),
                         Field(Str(o, "session")));
}

// "public.patients.ssn:PII:tokenize" per column; with `table`, only that table's columns (all of
// them when none matches).
std::string Columns(const json::object& o, std::string_view table) {
  std::vector<std::string> all;
  std::vector<std::string> of_table;
  const std::string prefix = absl::StrFormat("%s.", table);
  if (const json::array* a = Arr(o, "columns")) {
    for (const json::value& v : *a) {
      if (!v.is_object()) continue;
      const json::object& c = v.as_object();
      const std::string column = Str(c, "column");
      std::string text = absl::StrFormat("%s:%s:%s", column, Str(c, "class"), Str(c, "action"));
      const std::string use = Str(c, "use");
      if (!use.empty() && use != "output") text += ":" + use;
      if (!table.empty() && column.starts_with(prefix)) of_table.push_back(text);
      all.push_back(std::move(text));
    }
  }
  const std::vector<std::string>& shown = of_table.empty() ? all : of_table;
  return shown.empty() ? "-" : absl::StrJoin(shown, ",");
}

// The ids of statement records a record_corrected names, with the correction's seq: those
// statements were refused, whatever their record says.
absl::flat_hash_map<std::string, uint64_t> Corrections(const AuditTrail& trail) {
  absl::flat_hash_map<std::string, uint64_t> corrected;
  for (const AuditEntry& e : trail.entries) {
    if (!e.authentic || e.record->type != "record_corrected") continue;
    const std::string id = Str(e.record->fields, "record");
    if (!id.empty()) corrected.try_emplace(id, e.record->seq);
  }
  return corrected;
}

std::string Statement(const json::object& o, std::string_view table,
                      const absl::flat_hash_map<std::string, uint64_t>& corrected) {
  const auto correction = corrected.find(Str(o, "id"));
  if (correction != corrected.end()) {
    return absl::StrFormat("command=%s outcome=refused rows=- columns=%s corrected_by_seq=%d",
                           Field(Str(o, "command")), Field(Columns(o, table)), correction->second);
  }
  return absl::StrFormat("command=%s outcome=%s rows=%s columns=%s", Field(Str(o, "command")),
                         Field(Str(o, "outcome")), Num(o, "rows"), Field(Columns(o, table)));
}

size_t CountUnauthentic(const AuditTrail& trail) {
  size_t n = 0;
  for (const AuditEntry& e : trail.entries) n += !e.authentic;
  return n;
}

int Finish(const AuditTrail& trail, std::ostream& err, std::string_view command) {
  for (const std::string& u : trail.unreadable) err << "pgmask audit " << command << ": " << u << "\n";
  const size_t skipped = CountUnauthentic(trail);
  if (skipped == 0 && trail.unreadable.empty()) return 0;
  if (skipped > 0) {
    err << absl::StrFormat(
        "pgmask audit %s: warning: %d lines do not authenticate with the audit key and were "
        "skipped; run pgmask audit verify\n",
        command, skipped);
  }
  return 1;
}

}  // namespace

bool ParseSince(std::string_view text, absl::Time now, absl::Time& out) {
  if (ParseAuditTime(text, out)) return true;
  std::string err;
  if (absl::ParseTime("%Y-%m-%d", ToAbsl(text), absl::UTCTimeZone(), &out, &err)) return true;
  if (text.size() >= 2 && text.back() == 'd') {
    int64_t days = 0;
    if (absl::SimpleAtoi(ToAbsl(text.substr(0, text.size() - 1)), &days) && days >= 0) {
      out = now - absl::Hours(24 * days);
      return true;
    }
    return false;
  }
  absl::Duration age;
  if (absl::ParseDuration(ToAbsl(text), &age) && age >= absl::ZeroDuration()) {
    out = now - age;
    return true;
  }
  return false;
}

int RunWhoAccessed(const std::vector<std::string>& files, const policy::Key& audit_key,
                   std::string_view table_arg, std::string_view row_key, std::ostream& out,
                   std::ostream& err, const AuditTexts& texts) {
  const std::string table = table_arg.find('.') == std::string_view::npos
                                ? absl::StrFormat("public.%s", table_arg)
                                : std::string(table_arg);
  absl::StatusOr<AuditChain> chain = AuditChain::Create(audit_key, "");
  absl::StatusOr<AuditRowKeyHasher> hasher = AuditRowKeyHasher::Create(audit_key);
  if (!chain.ok() || !hasher.ok()) {
    err << "pgmask audit who-accessed: cannot use the audit key\n";
    return 2;
  }
  const std::string wanted = hasher->Hash(table, row_key);
  const AuditTrail trail = ReadAuditTrail(files, *chain, texts);
  // A corrected statement was refused: it returned no row.
  const absl::flat_hash_map<std::string, uint64_t> corrected = Corrections(trail);
  size_t seen = 0;
  size_t possibly = 0;
  for (const AuditEntry& e : trail.entries) {
    if (!e.authentic || e.record->type != "statement") continue;
    const json::object& o = e.record->fields;
    if (corrected.contains(Str(o, "id"))) continue;
    const json::array* keys = Arr(o, "keys");
    if (keys == nullptr) continue;
    for (const json::value& k : *keys) {
      if (!k.is_object() || Str(k.as_object(), "table") != table) continue;
      const json::object& entry = k.as_object();
      bool listed = false;
      if (const json::array* h = Arr(entry, "hmac")) {
        for (const json::value& v : *h) listed = listed || (v.is_string() && v.as_string() == wanted);
      }
      const json::value* capped = Get(entry, "capped");
      const bool maybe = !listed && capped != nullptr && capped->is_bool() && capped->as_bool();
      if (!listed && !maybe) continue;
      (listed ? seen : possibly)++;
      out << Str(o, "ts") << " " << Who(o) << " " << Statement(o, table, corrected)
          << " break_glass=" << Field(Str(o, "break_glass")) << " seq=" << e.record->seq;
      if (maybe) {
        out << absl::StrFormat(" possibly=\"key list capped at %s of %s rows\"", Num(entry, "cap"),
                               Num(entry, "rows"));
      }
      out << "\n    query: " << Str(o, "query") << "\n";
    }
  }
  if (seen == 0 && possibly == 0) {
    out << absl::StrFormat("no statement in the trail returned %s key %s\n", table, row_key);
  } else {
    out << absl::StrFormat("%d statement%s returned %s key %s", seen, seen == 1 ? "" : "s", table,
                           row_key);
    if (possibly > 0) out << absl::StrFormat("; %d more may have (key lists capped)", possibly);
    out << "\n";
  }
  return Finish(trail, err, "who-accessed");
}

int RunBreakGlassReport(const std::vector<std::string>& files, const policy::Key& audit_key,
                        absl::Time since, std::ostream& out, std::ostream& err,
                        const AuditTexts& texts) {
  absl::StatusOr<AuditChain> chain = AuditChain::Create(audit_key, "");
  if (!chain.ok()) {
    err << "pgmask audit break-glass: cannot use the audit key\n";
    return 2;
  }
  const AuditTrail trail = ReadAuditTrail(files, *chain, texts);
  const absl::flat_hash_map<std::string, uint64_t> corrected = Corrections(trail);
  struct Session {
    std::string who;
    std::vector<const AuditEntry*> entries;
    bool active_since = false;
  };
  std::vector<std::string> order;
  absl::flat_hash_map<std::string, Session> sessions;
  for (const AuditEntry& e : trail.entries) {
    if (!e.authentic) continue;
    const json::object& o = e.record->fields;
    const std::string& type = e.record->type;
    const bool relevant = type == "break_glass_start" || type == "break_glass_end" ||
                          (type == "statement" && !Str(o, "break_glass").empty());
    if (!relevant) continue;
    const std::string id = Str(o, "session");
    auto [it, inserted] = sessions.try_emplace(id);
    if (inserted) {
      order.push_back(id);
      it->second.who = Who(o);
    }
    it->second.entries.push_back(&e);
    absl::Time ts;
    if (ParseAuditTime(Str(o, "ts"), ts) && ts >= since) it->second.active_since = true;
  }
  size_t shown = 0;
  size_t statements = 0;
  for (const std::string& id : order) {
    const Session& s = sessions[id];
    if (!s.active_since) continue;
    ++shown;
    out << "break-glass " << s.who << "\n";
    for (const AuditEntry* e : s.entries) {
      const json::object& o = e->record->fields;
      const std::string& type = e->record->type;
      out << "  " << Str(o, "ts") << " ";
      if (type == "break_glass_start") {
        out << "start reason=" << Field(Str(o, "reason")) << " expires=" << Field(Str(o, "expires"))
            << " seq=" << e->record->seq << "\n";
      } else if (type == "break_glass_end") {
        out << "end outcome=" << Field(Str(o, "outcome")) << " seq=" << e->record->seq << "\n";
      } else {
        ++statements;
        out << Statement(o, "", corrected) << " seq=" << e->record->seq << "\n      query: " << Str(o, "query")
            << "\n";
      }
    }
  }
  if (shown == 0) {
    out << "no break-glass activity since " << FormatAuditTime(since) << "\n";
  } else {
    out << absl::StrFormat("%d break-glass session%s, %d statement%s since %s\n", shown,
                           shown == 1 ? "" : "s", statements, statements == 1 ? "" : "s",
                           FormatAuditTime(since));
  }
  return Finish(trail, err, "break-glass");
}

}  // namespace pgmask::proxy
