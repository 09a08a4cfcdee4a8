#include "policy/explain_command.h"

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "policy/analyzer.h"
#include "policy/decision.h"
#include "policy/effective_action.h"
#include "policy/policy_loader.h"
#include "policy/sql_parse.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy {
namespace {

constexpr std::string_view kOfflineNote =
    "offline: only the policy's tables are known (with their protected columns; other columns are "
    "listed as \"*\"), search_path is public, views, partitions and user-defined functions are unknown, "
    "and unknown unqualified functions are assumed built-in";

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string_view OriginName(FunctionOrigin origin) {
  switch (origin) {
    case FunctionOrigin::kBuiltin: return "built-in";
    case FunctionOrigin::kUserDefined: return "user-defined";
    case FunctionOrigin::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string_view TreatmentName(const ColumnPlan& plan) {
  switch (plan.treatment) {
    case Treatment::kClear: return "clear";
    case Treatment::kRedact: return "redact";
    case Treatment::kAction: return ActionName(plan.action);
  }
  return "redact";
}

std::string ColumnWithClass(const Policy& policy, ProtectedColumnId id) {
  const ColumnRule& rule = policy.tables()[id.table_index].columns[id.column_index];
  return absl::StrFormat("%s [%s]", ColumnDisplayName(policy, id), rule.classification);
}

std::string SourcesText(const Policy& policy, const Lineage& l) {
  if (l.everything()) return "every protected column (untraceable)";
  const ProtectedColumnSet columns = l.Columns();
  if (columns.empty()) return "no protected column";
  std::string out;
  for (ProtectedColumnId id : columns.ids()) {
    if (!out.empty()) out += ", ";
    out += ColumnWithClass(policy, id);
  }
  return out + (l.DirectColumn() ? " (direct)" : " (derived)");
}

std::string SourcesJson(const Policy& policy, const ProtectedColumnSet& columns) {
  std::string out = "[";
  for (ProtectedColumnId id : columns.ids()) {
    if (out.size() > 1) out += ",";
    const ColumnRule& rule = policy.tables()[id.table_index].columns[id.column_index];
    out += absl::StrFormat("{\"column\":%s,\"class\":%s}", JsonString(ColumnDisplayName(policy, id)),
                           JsonString(rule.classification));
  }
  return out + "]";
}

std::string ActionsText(const Policy& policy, const EffectiveActions& actions) {
  std::string out;
  for (size_t c = 0; c < policy.classifications().size(); ++c) {
    if (!out.empty()) out += ", ";
    out += absl::StrFormat("%s %s", policy.classifications()[c].name, ActionName(actions.For(c)));
  }
  return out;
}

struct Explained {
  StatementAnalysis analysis;
  StatementDecision decision;
};

void PrintText(const Policy& policy, std::string_view role, const EffectiveActions& actions, bool restricted,
               std::string_view catalog_note, const absl::StatusOr<ParsedSql>& parsed,
               const std::vector<Explained>& statements, std::ostream& out) {
  out << "role " << role << ": " << ActionsText(policy, actions);
  out << (actions.matched_roles().empty() ? " (policy entry \"*\")" : " (policy entries:");
  for (const std::string& r : actions.matched_roles()) out << " " << r;
  out << (actions.matched_roles().empty() ? "\n" : ")\n");
  if (!restricted) out << "every class is clear for this role: pgmask passes its statements through unanalysed\n";
  out << "catalog: " << catalog_note << "\n";
  if (!parsed.ok()) {
    out << "statement: " << (restricted ? "refused: " + UnparsableRefusal() : std::string("allowed")) << "\n"
        << "  parser: " << parsed.status().message() << "\n";
    return;
  }
  for (size_t i = 0; i < statements.size(); ++i) {
    const StatementAnalysis& a = statements[i].analysis;
    const StatementDecision& d = statements[i].decision;
    out << "statement " << i + 1 << " (" << StatementKindName(a.kind) << "): "
        << (d.refusal ? "refused: " + *d.refusal : std::string("allowed")) << "\n";
    if (!a.outputs.empty()) out << "  columns:\n";
    for (size_t c = 0; c < a.outputs.size(); ++c) {
      const OutputColumn& o = a.outputs[c];
      out << "    " << c + 1 << ". " << o.name << (o.unlisted ? " (columns pgmask cannot list)" : "") << " <- "
          << SourcesText(policy, o.lineage) << ": " << TreatmentName(d.columns[c]) << "\n";
    }
    if (!d.findings.empty()) out << "  other uses of protected columns:\n";
    for (const InferenceFinding& f : d.findings) {
      out << "    " << ColumnWithClass(policy, f.column) << " in " << UsageClauseName(f.clause)
          << (f.equality_only ? " (equality only)" : "") << ", seen as " << ActionName(f.action) << ": "
          << (f.allowed ? "allowed" : "refused") << "\n";
    }
    for (const DataWrite& w : a.writes) out << "  writes into " << w.target << ": " << SourcesText(policy, w.lineage) << "\n";
    if (!a.functions.empty()) {
      out << "  functions:";
      for (const FunctionUse& f : a.functions) {
        out << " " << (f.schema.empty() ? "" : f.schema + ".") << f.name << " (" << OriginName(f.origin)
            << (f.trusted ? "" : ", untrusted") << ")";
      }
      out << "\n";
    }
    for (const std::string& r : a.refusals) out << "  refusal trigger: " << r << "\n";
  }
}

void PrintJson(const Policy& policy, std::string_view role, const EffectiveActions& actions, bool restricted,
               std::string_view catalog_note, const absl::StatusOr<ParsedSql>& parsed,
               const std::vector<Explained>& statements, std::ostream& out) {
  out << "{\"role\":" << JsonString(role) << ",\"matched_roles\":[";
  for (size_t i = 0; i < actions.matched_roles().size(); ++i) {
    out << (i ? "," : "") << JsonString(actions.matched_roles()[i]);
  }
  out << "],\"actions\":{";
  for (size_t c = 0; c < policy.classifications().size(); ++c) {
    out << (c ? "," : "") << JsonString(policy.classifications()[c].name) << ":" << JsonString(ActionName(actions.For(c)));
  }
  out << "},\"restricted\":" << (restricted ? "true" : "false") << ",\"catalog\":" << JsonString(catalog_note);
  if (!parsed.ok()) {
    out << ",\"statements\":[{\"kind\":\"unparsable\",\"parser\":" << JsonString(ToStd(parsed.status().message()))
        << ",\"refusal\":" << (restricted ? JsonString(UnparsableRefusal()) : "null") << "}]}\n";
    return;
  }
  out << ",\"statements\":[";
  for (size_t i = 0; i < statements.size(); ++i) {
    const StatementAnalysis& a = statements[i].analysis;
    const StatementDecision& d = statements[i].decision;
    out << (i ? "," : "") << "{\"kind\":" << JsonString(StatementKindName(a.kind))
        << ",\"refusal\":" << (d.refusal ? JsonString(*d.refusal) : "null") << ",\"columns\":[";
    for (size_t c = 0; c < a.outputs.size(); ++c) {
      const OutputColumn& o = a.outputs[c];
      out << (c ? "," : "") << "{\"name\":" << JsonString(o.name) << ",\"unlisted\":" << (o.unlisted ? "true" : "false")
          << ",\"sources\":" << SourcesJson(policy, o.lineage.Columns())
          << ",\"untraceable\":" << (o.lineage.everything() ? "true" : "false")
          << ",\"direct\":" << (o.lineage.DirectColumn() ? "true" : "false")
          << ",\"treatment\":" << JsonString(TreatmentName(d.columns[c])) << "}";
    }
    out << "],\"uses\":[";
    for (size_t f = 0; f < d.findings.size(); ++f) {
      const InferenceFinding& x = d.findings[f];
      ProtectedColumnSet one;
      one.Insert(x.column);
      out << (f ? "," : "") << "{\"source\":" << SourcesJson(policy, one) << ",\"clause\":" << JsonString(UsageClauseName(x.clause))
          << ",\"equality_only\":" << (x.equality_only ? "true" : "false") << ",\"action\":" << JsonString(ActionName(x.action))
          << ",\"allowed\":" << (x.allowed ? "true" : "false") << "}";
    }
    out << "],\"functions\":[";
    for (size_t f = 0; f < a.functions.size(); ++f) {
      const FunctionUse& x = a.functions[f];
      out << (f ? "," : "") << "{\"schema\":" << JsonString(x.schema) << ",\"name\":" << JsonString(x.name)
          << ",\"origin\":" << JsonString(OriginName(x.origin)) << ",\"trusted\":" << (x.trusted ? "true" : "false") << "}";
    }
    out << "],\"writes\":[";
    for (size_t w = 0; w < a.writes.size(); ++w) {
      out << (w ? "," : "") << "{\"target\":" << JsonString(a.writes[w].target)
          << ",\"sources\":" << SourcesJson(policy, a.writes[w].lineage.Columns())
          << ",\"untraceable\":" << (a.writes[w].lineage.everything() ? "true" : "false") << "}";
    }
    out << "],\"refusal_triggers\":[";
    for (size_t r = 0; r < a.refusals.size(); ++r) out << (r ? "," : "") << JsonString(a.refusals[r]);
    out << "]}";
  }
  out << "]}\n";
}

}  // namespace

int ExplainStatements(const Policy& policy, absl::Span<const std::string> session_roles, std::string_view sql,
                      const CatalogView& catalog, std::string_view catalog_note, bool json, std::ostream& out) {
  const EffectiveActions actions = ResolveEffectiveActions(policy, session_roles);
  const bool restricted = IsRestricted(policy, actions);
  const absl::StatusOr<ParsedSql> parsed = ParsedSql::Parse(sql);
  std::vector<Explained> statements;
  bool refused = !parsed.ok() && restricted;
  if (parsed.ok()) {
    for (StatementAnalysis& a : AnalyzeStatements(*parsed, policy, catalog)) {
      StatementDecision d = Decide(a, policy, actions);
      refused = refused || d.refusal.has_value();
      statements.push_back({std::move(a), std::move(d)});
    }
  }
  const std::string_view role = session_roles.empty() ? std::string_view() : std::string_view(session_roles.front());
  if (json) {
    PrintJson(policy, role, actions, restricted, catalog_note, parsed, statements, out);
  } else {
    PrintText(policy, role, actions, restricted, catalog_note, parsed, statements, out);
  }
  return refused ? 2 : 0;
}

int RunExplainCommand(std::string_view policy_path, std::string_view role, std::string_view sql, bool json,
                      std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyFile(std::string(policy_path));
  if (!policy.ok()) {
    err << policy.status().message() << "\n";
    return 1;
  }
  const CatalogView catalog = OfflineCatalog(**policy);
  const std::vector<std::string> roles = {std::string(role)};
  return ExplainStatements(**policy, roles, sql, catalog, kOfflineNote, json, out);
}

}  // namespace pgmask::policy
