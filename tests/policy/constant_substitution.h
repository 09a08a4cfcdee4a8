// Test support for policy/constant_tokens.h: a text with each constant replaced by another of
// its kind, which PostgreSQL's parser must read exactly like the original but for the values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/analyzer.h"
#include "policy/constant_tokens.h"
#include "policy/sql_parse.h"
#include "policy/statement_analysis.h"

namespace pgmask::policy::testing {

inline std::string WithOtherConstants(std::string_view sql, const std::vector<ConstantToken>& constants) {
  std::string out;
  size_t at = 0;
  for (const ConstantToken& t : constants) {
    out.append(sql.substr(at, t.offset - at));
    switch (t.kind) {
      case ConstantToken::Kind::kInteger:
        out.append("98765");
        break;
      case ConstantToken::Kind::kDecimal:
        out.append("98765.4e3");
        break;
      case ConstantToken::Kind::kString:
        out.append("'o''ther'");
        break;
    }
    at = t.offset + t.length;
  }
  out.append(sql.substr(at));
  return out;
}

// What the plan cache may share between `sql` and WithOtherConstants(sql): when both parse and
// the analysis of `sql` did not look at a constant, their analyses must be the same. A text that
// does not parse is refused by PostgreSQL itself.
inline bool AnalysedAlike(std::string_view sql, std::string_view other, const Policy& policy,
                          const CatalogView& catalog) {
  const absl::StatusOr<ParsedSql> a = ParsedSql::Parse(sql);
  const absl::StatusOr<ParsedSql> b = ParsedSql::Parse(other);
  if (!a.ok() || !b.ok()) return true;
  const std::vector<StatementAnalysis> x = AnalyzeStatements(*a, policy, catalog);
  const std::vector<StatementAnalysis> y = AnalyzeStatements(*b, policy, catalog);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].literal_sensitive) continue;
    if (x[i].kind != y[i].kind || x[i].name != y[i].name || x[i].outputs != y[i].outputs ||
        x[i].usages != y[i].usages || x[i].functions != y[i].functions || x[i].refusals != y[i].refusals ||
        x[i].unknown_relations != y[i].unknown_relations || !(x[i].stored == y[i].stored) ||
        x[i].writes.size() != y[i].writes.size()) {
      return false;
    }
    for (size_t w = 0; w < x[i].writes.size(); ++w) {
      if (x[i].writes[w].target != y[i].writes[w].target || !(x[i].writes[w].lineage == y[i].writes[w].lineage)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace pgmask::policy::testing
