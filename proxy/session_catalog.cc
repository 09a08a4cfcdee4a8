#include "proxy/session_catalog.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {
namespace {

// An E'' literal reads the same whatever standard_conforming_strings the client has set.
std::string Literal(std::string_view text) {
  std::string out = "E'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

std::string CatalogQuery(const policy::Policy& policy) {
  std::string values;
  const auto& tables = policy.tables();
  for (size_t ti = 0; ti < tables.size(); ++ti) {
    for (size_t ci = 0; ci < tables[ti].columns.size(); ++ci) {
      if (!values.empty()) values += ", ";
      absl::StrAppend(&values, "(", ti, ", ", ci, ", ", Literal(tables[ti].schema), ", ", Literal(tables[ti].name),
                      ", ", Literal(tables[ti].columns[ci].name), ")");
    }
  }
  std::string sql =
      "WITH RECURSIVE pgmask_member(oid) AS ("
      " SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user"
      " UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN pgmask_member p ON m.member = p.oid)"
      " SELECT 'r', r.rolname::text, NULL::text, NULL::text, NULL::text, NULL::text"
      " FROM pg_catalog.pg_roles r JOIN pgmask_member USING (oid)";
  if (!values.empty()) {
    absl::StrAppend(&sql,
                    " UNION ALL SELECT 'c', NULL, c.oid::text, a.attnum::text, v.ti::text, v.ci::text"
                    " FROM (VALUES ",
                    values,
                    ") AS v(ti, ci, s, t, col)"
                    " JOIN pg_catalog.pg_namespace n ON n.nspname = v.s"
                    " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = v.t"
                    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = v.col"
                    " AND a.attnum > 0 AND NOT a.attisdropped");
  }
  return sql;
}

absl::Status AddCatalogRow(const std::vector<protocol::WireValue>& row, SessionCatalog& catalog) {
  if (row.size() != 6 || row[0].is_null()) return absl::DataLossError("unexpected catalog row");
  if (row[0].text() == "r") {
    catalog.roles.emplace_back(row[1].text());
    return absl::OkStatus();
  }
  uint32_t oid = 0;
  int attnum = 0;
  size_t ti = 0;
  size_t ci = 0;
  if (row[0].text() != "c" || !absl::SimpleAtoi(ToAbsl(row[2].text()), &oid) ||
      !absl::SimpleAtoi(ToAbsl(row[3].text()), &attnum) || !absl::SimpleAtoi(ToAbsl(row[4].text()), &ti) ||
      !absl::SimpleAtoi(ToAbsl(row[5].text()), &ci)) {
    return absl::DataLossError("unexpected catalog row");
  }
  const auto& tables = catalog.policy->tables();
  if (ti >= tables.size() || ci >= tables[ti].columns.size()) return absl::DataLossError("unexpected catalog row");
  catalog.columns[SessionCatalog::Key(oid, static_cast<int16_t>(attnum))] = {ti, ci};
  return absl::OkStatus();
}

}  // namespace pgmask::proxy
