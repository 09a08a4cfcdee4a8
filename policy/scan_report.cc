#include "policy/scan_report.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "policy/identifier.h"
#include "policy/pg_type.h"
#include "policy/scan_detectors.h"

namespace pgmask::policy {
namespace {

// A YAML key is written bare only when YAML cannot read it as anything but that string; else
// double-quoted with escapes, so no name (a catalog name may hold quotes, '#' or a newline) can
// end the scalar or the line.
std::string YamlKey(std::string_view key) {
  bool bare = !key.empty() && (absl::ascii_islower(static_cast<unsigned char>(key[0])) || key[0] == '_');
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    bare = bare && (absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '_' || c == '$' || c == '.');
  }
  for (std::string_view word : {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}) {
    bare = bare && key != word;
  }
  if (bare) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted.push_back('\\');
      quoted.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&quoted, "\\x%02x", u);
    } else {
      quoted.push_back(c);
    }
  }
  quoted.push_back('"');
  return quoted;
}

// What free text holds inside, as (JSON name, reader's name) pairs.
constexpr std::pair<uint32_t, std::pair<std::string_view, std::string_view>> kEmbeddedNames[] = {
    {kEmbeddedEmail, {"email", "e-mail"}},
    {kEmbeddedPhone, {"phone", "phone"}},
    {kEmbeddedSsn, {"ssn", "SSN"}},
    {kEmbeddedCard, {"card_number", "card number"}},
    {kEmbeddedMedicalCode, {"medical_code", "ICD-10 code"}},
};

std::string Comment(const Finding& f) {
  std::string text = absl::StrFormat("%s, confidence %.2f (%s", Info(f.category).name, f.confidence,
                                     EvidenceName(f.evidence));
  if (f.evidence != Evidence::kName) absl::StrAppendFormat(&text, ": %d of %d values", f.matched, f.sampled);
  text += ")";
  const char* separator = ", contains ";
  for (const auto& [bit, names] : kEmbeddedNames) {
    if ((f.embedded & bit) == 0) continue;
    absl::StrAppendFormat(&text, "%s%s", separator, names.second);
    separator = ", ";
  }
  return text;
}

std::string Suggestion(const Finding& f) {
  return absl::StrFormat("{ class: %s, mask: \"%s\" }", f.class_name, Info(f.category).mask);
}

void AppendFinding(const ScannedColumn& column, std::string& out) {
  const Finding& f = *column.finding;
  out += "{\"column\":";
  AppendJsonString(column.name, out);
  out += ",\"type\":";
  AppendJsonString(column.type, out);
  absl::StrAppendFormat(&out, R"(,"category":"%s","class":"%s","mask":)", Info(f.category).name, f.class_name);
  AppendJsonString(Info(f.category).mask, out);
  absl::StrAppendFormat(&out, R"(,"confidence":%.2f,"evidence":"%s","sampled":%d,"matched":%d,"contains":[)",
                        f.confidence, EvidenceName(f.evidence), f.sampled, f.matched);
  const char* separator = "";
  for (const auto& [bit, names] : kEmbeddedNames) {
    if ((f.embedded & bit) == 0) continue;
    absl::StrAppendFormat(&out, "%s\"%s\"", separator, names.first);
    separator = ",";
  }
  out += "]}";
}

}  // namespace

std::string PolicyTableName(std::string_view schema, std::string_view table) {
  return QuoteIdentifierIfNeeded(schema) + "." + QuoteIdentifierIfNeeded(table);
}

Drift ComputeDrift(const ScanResult& result, const Policy& policy) {
  Drift drift;
  for (const ScannedTable& t : result.tables) {
    if (t.catalog_only) continue;
    for (const ScannedColumn& c : t.columns) {
      if (c.finding && policy.FindColumn(t.schema, t.name, c.name) == nullptr) {
        drift.uncovered.push_back({PolicyTableName(t.schema, t.name), c.name, &c});
      }
    }
  }
  for (const TableRule& rule : policy.tables()) {
    const auto table = std::find_if(result.tables.begin(), result.tables.end(), [&](const ScannedTable& t) {
      return t.schema == rule.schema && t.name == rule.name;
    });
    if (table == result.tables.end()) {
      drift.missing.push_back({PolicyTableName(rule.schema, rule.name), "", nullptr});
      continue;
    }
    for (const ColumnRule& column : rule.columns) {
      const bool exists = std::any_of(table->columns.begin(), table->columns.end(),
                                      [&](const ScannedColumn& c) { return c.name == column.name; });
      if (!exists) drift.missing.push_back({PolicyTableName(rule.schema, rule.name), column.name, nullptr});
    }
  }
  return drift;
}

void RenderDraftYaml(const ScanResult& result, std::ostream& out) {
  std::set<std::string> classes;
  for (const ScannedTable& t : result.tables) {
    for (const ScannedColumn& c : t.columns) {
      if (c.finding) classes.insert(c.finding->class_name);
    }
  }
  out << "# A policy draft from `pgmask scan` of database " << YamlKey(result.database)
      << ": review every entry before use.\n"
         "# Each comment: what the column looks like, the confidence (0-1), and the evidence: its name,\n"
         "# its sampled values (how many matched), or both. No sampled value is shown.\n"
         "version: 1\n";
  if (!classes.empty()) out << "classifications:\n";
  for (const std::string& name : classes) {
    const SuggestedClass* c = FindSuggestedClass(name);
    out << "  " << name << ": { tier: " << (c ? c->tier : "restricted") << ", description: \""
        << (c ? c->description : "") << "\" }\n";
  }
  out << "tables:" << (classes.empty() ? " {}\n" : "\n");
  for (const ScannedTable& t : result.tables) {
    size_t width = 0;
    for (const ScannedColumn& c : t.columns) {
      if (c.finding) width = std::max(width, YamlKey(QuoteIdentifierIfNeeded(c.name)).size() + 1);
    }
    if (width == 0) continue;
    out << "  " << YamlKey(PolicyTableName(t.schema, t.name)) << ":\n    columns:\n";
    for (const ScannedColumn& c : t.columns) {
      if (!c.finding) continue;
      out << "      " << absl::StrFormat("%-*s ", width, YamlKey(QuoteIdentifierIfNeeded(c.name)) + ":") << Suggestion(*c.finding) << "  # "
          << Comment(*c.finding) << "\n";
    }
  }
  out << "roles:\n"
         "  \"*\": { default: mask }   # every role not listed; add the roles that may see more\n"
         "settings:\n"
         "  inference: deny\n";
  for (const ScannedTable& t : result.tables) {
    if (t.skipped) out << "# not sampled: " << PolicyTableName(t.schema, t.name) << " (" << *t.skipped << ")\n";
  }
}

void RenderDriftText(const Drift& drift, std::string_view policy_name, std::ostream& out) {
  if (drift.uncovered.empty() && drift.missing.empty()) {
    out << "no drift: every column that looks protected is in " << policy_name
        << ", and every column it names exists\n";
    return;
  }
  if (!drift.uncovered.empty()) {
    out << "not covered by " << policy_name << " (" << drift.uncovered.size() << "):\n";
    for (const DriftColumn& d : drift.uncovered) {
      out << "  " << d.table << "." << QuoteIdentifierIfNeeded(d.column) << ": " << Suggestion(*d.scanned->finding) << "  # "
          << Comment(*d.scanned->finding) << "\n";
    }
  }
  if (!drift.missing.empty()) {
    out << "in " << policy_name << " but no longer in the database (" << drift.missing.size() << "):\n";
    for (const DriftColumn& d : drift.missing) {
      out << "  " << d.table;
      if (d.column.empty()) {
        out << " (the whole table)\n";
      } else {
        out << "." << QuoteIdentifierIfNeeded(d.column) << "\n";
      }
    }
  }
}

std::string RenderJson(const ScanResult& result, const Drift* drift, std::string_view policy_name) {
  std::string out = "{\"database\":";
  AppendJsonString(result.database, out);
  out += ",\"tables\":[";
  bool first_table = true;
  for (const ScannedTable& t : result.tables) {
    if (t.catalog_only) continue;
    out += first_table ? "{\"table\":" : ",{\"table\":";
    first_table = false;
    AppendJsonString(PolicyTableName(t.schema, t.name), out);
    absl::StrAppendFormat(&out, R"(,"sampled_rows":%d,"sample":"%s","skipped":)", t.sampled_rows, t.sample_method);
    if (t.skipped) {
      AppendJsonString(*t.skipped, out);
    } else {
      out += "null";
    }
    out += ",\"findings\":[";
    bool first = true;
    for (const ScannedColumn& c : t.columns) {
      if (!c.finding) continue;
      if (!first) out += ",";
      first = false;
      AppendFinding(c, out);
    }
    out += "]}";
  }
  out += "]";
  if (drift != nullptr) {
    out += ",\"drift\":{\"policy\":";
    AppendJsonString(policy_name, out);
    out += ",\"uncovered\":[";
    for (size_t i = 0; i < drift->uncovered.size(); ++i) {
      const DriftColumn& d = drift->uncovered[i];
      out += i ? ",{\"table\":" : "{\"table\":";
      AppendJsonString(d.table, out);
      out += ",\"finding\":";
      AppendFinding(*d.scanned, out);
      out += "}";
    }
    out += "],\"missing\":[";
    for (size_t i = 0; i < drift->missing.size(); ++i) {
      const DriftColumn& d = drift->missing[i];
      out += i ? ",{\"table\":" : "{\"table\":";
      AppendJsonString(d.table, out);
      out += ",\"column\":";
      if (d.column.empty()) {
        out += "null";
      } else {
        AppendJsonString(d.column, out);
      }
      out += "}";
    }
    out += "]}";
  }
  out += "}\n";
  return out;
}

}  // namespace pgmask::policy
