#include "proxy/audit_columns.h"

#include <algorithm>

#include "policy/decision.h"

namespace pgmask::proxy {
namespace {

AuditColumnUse UseOf(policy::UsageClause clause) {
  switch (clause) {
    case policy::UsageClause::kWhere:
    case policy::UsageClause::kJoin:
    case policy::UsageClause::kHaving:
    case policy::UsageClause::kCondition:
    case policy::UsageClause::kFallible:
    case policy::UsageClause::kUniqueCheck:
    case policy::UsageClause::kForeignKeyCheck:
      return AuditColumnUse::kPredicate;
    default:
      return AuditColumnUse::kOther;
  }
}

void Add(AuditColumnRefs& out, AuditColumnRef ref) {
  for (AuditColumnRef& known : out.refs) {
    if (known.column != ref.column || known.use != ref.use) continue;
    // A column that is both shown and computed from is recorded as computed: the stricter one.
    known.derived = known.derived || ref.derived;
    return;
  }
  out.refs.push_back(ref);
}

void AddSet(AuditColumnRefs& out, const policy::ProtectedColumnSet& set, AuditColumnUse use, bool derived) {
  for (const policy::ProtectedColumnId& id : set.ids()) Add(out, {id, use, derived});
}

}  // namespace

AuditColumnRefs AuditColumnRefsOf(const policy::StatementAnalysis& analysis) {
  AuditColumnRefs out;
  for (const policy::OutputColumn& o : analysis.outputs) {
    AddSet(out, o.lineage.direct(), AuditColumnUse::kOutput, false);
    AddSet(out, o.lineage.derived(), AuditColumnUse::kOutput, true);
    out.everything = out.everything || o.lineage.everything();
  }
  for (const policy::ColumnUsage& u : analysis.usages) {
    AddSet(out, u.columns, UseOf(u.clause), false);
    out.everything = out.everything || u.everything;
  }
  for (const policy::DataWrite& w : analysis.writes) {
    AddSet(out, w.lineage.Columns(), AuditColumnUse::kOther, false);
    out.everything = out.everything || w.lineage.everything();
  }
  AddSet(out, analysis.stored.Columns(), AuditColumnUse::kOther, false);
  out.everything = out.everything || analysis.stored.everything();
  return out;
}

std::vector<AuditColumn> AuditColumnsFor(const AuditColumnRefs& refs, const policy::Policy& policy,
                                         const policy::EffectiveActions& actions) {
  std::vector<AuditColumn> out;
  out.reserve(refs.refs.size() + (refs.everything ? 1 : 0));
  for (const AuditColumnRef& ref : refs.refs) {
    if (ref.column.table_index >= policy.tables().size()) continue;
    const policy::TableRule& table = policy.tables()[ref.column.table_index];
    if (ref.column.column_index >= table.columns.size()) continue;
    const policy::ColumnRule& rule = table.columns[ref.column.column_index];
    const policy::Action action = actions.For(rule.class_index);
    AuditColumn c;
    c.column = policy::ColumnDisplayName(policy, ref.column);
    c.classification = rule.classification;
    c.use = ref.use;
    c.action = ref.derived && action != policy::Action::kClear ? "redact" : std::string(policy::ActionName(action));
    out.push_back(std::move(c));
  }
  if (refs.everything) {
    bool all_clear = true;
    for (const policy::Action a : actions.all()) all_clear = all_clear && a == policy::Action::kClear;
    out.push_back({"*", "*", AuditColumnUse::kOutput, all_clear ? "clear" : "redact"});
  }
  return out;
}

}  // namespace pgmask::proxy
