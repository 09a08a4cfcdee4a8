// The policy and in-memory catalog the analysis, decision and explain tests share, and compact
// renderings of analysis results for table-driven expectations.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/analyzer.h"
#include "policy/catalog_view.h"
#include "policy/policy.h"
#include "policy/policy_loader.h"
#include "policy/statement_analysis.h"

namespace pgmask::policy::testing {

inline std::string PolicyText(std::string_view inference) {
  return std::string(R"yaml(version: 1
classifications:
  PII: { tier: confidential }
  PHI: { tier: restricted }
  PCI: { tier: restricted }
  REF: { tier: internal }
tables:
  public.patients:
    columns:
      ssn:         { class: PII, mask: "partial(0, 'XXX-XX-', 4)" }
      email:       { class: PII, mask: email }
      diagnosis:   { class: PHI, mask: redact }
      insurer_id:  { class: REF, mask: hash }
  billing.payments:
    columns:
      card_number: { class: PCI, mask: redact }
  public.measurements:
    columns:
      reading:     { class: PHI }
  public.events_2024:
    columns:
      detail:      { class: PHI }
roles:
  analyst: { PII: tokenize, PHI: mask, PCI: deny, REF: mask }
  support: { PII: mask, PHI: deny, PCI: mask, REF: mask }
  app:     { default: clear }
  "*":     { default: mask }
settings:
  inference: )yaml") + std::string(inference) + R"yaml(
  trusted_functions: [public.safe_fn, any_schema_fn]
)yaml";
}

inline std::shared_ptr<const Policy> TestPolicy(std::string_view inference = "deny") {
  auto policy = LoadPolicyString(PolicyText(inference), "test.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : nullptr;
}

inline CatalogRelation Table(std::string schema, std::string name, std::vector<std::string> columns,
                             RelationKind kind = RelationKind::kTable, std::string definition = "",
                             std::vector<QualifiedName> parents = {}) {
  CatalogRelation r;
  r.schema = std::move(schema);
  r.name = std::move(name);
  r.kind = kind;
  int16_t attnum = 0;
  for (std::string& c : columns) r.columns.push_back({std::move(c), ++attnum});
  r.view_definition = std::move(definition);
  r.parents = std::move(parents);
  return r;
}

inline CatalogData TestCatalogData(std::vector<std::string> search_path = {"public"}) {
  CatalogData d;
  d.search_path = std::move(search_path);
  d.relations = {
      Table("public", "patients", {"id", "name", "ssn", "email", "diagnosis", "dob", "insurer_id"}),
      Table("public", "visits", {"id", "patient_id", "ssn", "note"}),
      Table("billing", "payments", {"id", "patient_id", "card_number", "amount"}),
      Table("private", "patients", {"id", "ssn"}),
      Table("public", "patient_view", {"id", "email_upper", "ssn"}, RelationKind::kView,
            "SELECT patients.id, upper(patients.email) AS email_upper, patients.ssn FROM public.patients"),
      Table("public", "nested_view", {"s"}, RelationKind::kView, "SELECT patient_view.ssn AS s FROM public.patient_view"),
      Table("public", "mv", {"card_number"}, RelationKind::kMaterializedView,
            "SELECT payments.card_number FROM billing.payments"),
      Table("public", "bad_view", {"x"}, RelationKind::kView, "SELEC garbage"),
      Table("public", "measurements", {"id", "reading"}, RelationKind::kPartitionedTable),
      Table("public", "measurements_2024", {"id", "reading"}, RelationKind::kTable, "", {{"public", "measurements"}}),
      Table("public", "events", {"id", "detail"}),
      Table("public", "events_2024", {"id", "detail"}, RelationKind::kTable, "", {{"public", "events"}}),
  };
  for (std::string_view f :
       {"upper", "lower", "count", "sum", "max", "min", "avg", "length", "row_to_json", "to_json", "json_build_object",
        "string_agg", "array_agg", "row_number", "rank", "first_value", "generate_series", "unnest", "substring",
        "set_config", "pg_notify", "query_to_xml", "table_to_xmlschema", "pg_read_file", "pg_ls_dir", "lo_get",
        "loread", "starts_with", "md5", "now", "concat", "xmlelement", "substr", "left", "btrim", "int4", "ascii",
        "format", "convert_to", "regexp_matches", "repeat", "regexp_split_to_table", "string_to_array", "jsonb_array_elements",
        "to_jsonb", "replace", "translate", "strpos", "position", "split_part", "regexp_replace", "percentile_disc",
        "mode", "setval", "setseed", "hashtext", "pg_advisory_lock", "pg_try_advisory_xact_lock",
        "pg_create_physical_replication_slot", "jsonb_extract_path_text"}) {
    d.functions.push_back({"pg_catalog", std::string(f)});
  }
  for (std::string_view f : {"safe_fn", "evil_fn", "lower", "any_schema_fn", "dblink", "evil_proc"}) {
    d.functions.push_back({"public", std::string(f)});
  }
  // pg_catalog's operators, as the live catalog lists them (a symbol nobody defines is refused).
  for (std::string_view op : {"=", "<>", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "||", "~~", "!~~", "~~*",
                              "!~~*", "~", "!~", "~*", "!~*", "->", "->>", "#>", "#>>", "@>", "<@", "&&", "?", "|/",
                              "@", "&", "|", "#", "<<", ">>"}) {
    d.functions.push_back({"pg_catalog", OperatorFunctionName(op)});
  }
  d.functions.push_back({"public", OperatorFunctionName("###")});
  d.functions.push_back({"public", OperatorFunctionName("=")});  // an extension's overload
  return d;
}

inline std::string ShortName(const Policy& policy, ProtectedColumnId id) {
  const TableRule& t = policy.tables()[id.table_index];
  return t.name + "." + t.columns[id.column_index].name;
}

inline std::string Columns(const Policy& policy, const ProtectedColumnSet& set) {
  std::string out;
  for (ProtectedColumnId id : set.ids()) {
    std::string name = ShortName(policy, id);
    out += (out.empty() ? "" : ",") + name;
  }
  return out;
}

// "-" nothing protected, "*" untraceable, "D(t.c)" direct, "R(t.a,t.b)" derived.
inline std::string RenderLineage(const Policy& policy, const Lineage& l) {
  if (l.everything()) return "*";
  if (l.empty()) return "-";
  if (l.DirectColumn()) return "D(" + ShortName(policy, *l.DirectColumn()) + ")";
  return "R(" + Columns(policy, l.Columns()) + ")";
}

inline std::string RenderOutputs(const Policy& policy, const StatementAnalysis& a) {
  std::string out;
  for (const OutputColumn& c : a.outputs) {
    if (!out.empty()) out += ", ";
    out += c.name + (c.unlisted ? "+" : "") + ":" + RenderLineage(policy, c.lineage);
  }
  return out;
}

inline std::string_view ClauseCode(UsageClause c) {
  switch (c) {
    case UsageClause::kWhere: return "WHERE";
    case UsageClause::kJoin: return "JOIN";
    case UsageClause::kHaving: return "HAVING";
    case UsageClause::kOrderBy: return "ORDER";
    case UsageClause::kGroupBy: return "GROUP";
    case UsageClause::kDistinct: return "DISTINCT";
    case UsageClause::kDistinctOn: return "DISTINCT_ON";
    case UsageClause::kWindow: return "WINDOW";
    case UsageClause::kLimit: return "LIMIT";
    case UsageClause::kSetOperation: return "SETOP";
    case UsageClause::kCondition: return "COND";
    case UsageClause::kFallible: return "FALLIBLE";
    case UsageClause::kUniqueCheck: return "UNIQUE";
    case UsageClause::kForeignKeyCheck: return "FOREIGN_KEY";
    case UsageClause::kReplaced: return "REPLACED";
  }
  return "?";
}

// "WHERE:patients.ssn", "GROUP=:patients.ssn" (equality only), sorted, "; "-separated.
inline std::string RenderUsages(const Policy& policy, const StatementAnalysis& a) {
  std::vector<std::string> parts;
  for (const ColumnUsage& u : a.usages) {
    parts.push_back(std::string(ClauseCode(u.clause)) + (u.equality_only ? "=" : "") + ":" +
                    (u.everything ? std::string("*") : Columns(policy, u.columns)));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

inline std::string RenderWrites(const Policy& policy, const StatementAnalysis& a) {
  std::string out;
  for (const DataWrite& w : a.writes) out += (out.empty() ? "" : "; ") + w.target + "<-" + RenderLineage(policy, w.lineage);
  return out;
}

}  // namespace pgmask::policy::testing
