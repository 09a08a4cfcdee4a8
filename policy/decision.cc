#include "policy/decision.h"

#include "absl/strings/str_format.h"
#include "policy/identifier.h"

namespace pgmask::policy {
namespace {

const ColumnRule& Rule(const Policy& policy, ProtectedColumnId id) {
  return policy.tables()[id.table_index].columns[id.column_index];
}

// The columns a lineage or usage stands for; `everything` means every protected column.
std::vector<ProtectedColumnId> Expand(const Policy& policy, const ProtectedColumnSet& columns, bool everything) {
  if (!everything) return columns.ids();
  std::vector<ProtectedColumnId> all;
  for (size_t t = 0; t < policy.tables().size(); ++t) {
    for (size_t c = 0; c < policy.tables()[t].columns.size(); ++c) all.push_back({t, c});
  }
  return all;
}

class Decider {
 public:
  Decider(const Policy& policy, const EffectiveActions& actions) : policy_(policy), actions_(actions) {}

  Action ActionFor(ProtectedColumnId id) const { return actions_.For(Rule(policy_, id).class_index); }

  // The column with the strictest action among `ids` the role does not see clear, or nullopt.
  std::optional<ProtectedColumnId> StrictestHidden(const std::vector<ProtectedColumnId>& ids) const {
    std::optional<ProtectedColumnId> worst;
    for (ProtectedColumnId id : ids) {
      const Action a = ActionFor(id);
      if (a != Action::kClear && (!worst || a > ActionFor(*worst))) worst = id;
    }
    return worst;
  }

  // Tokens (and hashes) reveal equality and nothing more.
  bool RevealsOnlyEquality(ProtectedColumnId id) const {
    const Action a = ActionFor(id);
    return a == Action::kTokenize || (a == Action::kMask && Rule(policy_, id).mask.kind == MaskKind::kHash);
  }

  std::string Describe(ProtectedColumnId id) const {
    return absl::StrFormat("%s (class %s)", ColumnDisplayName(policy_, id), Rule(policy_, id).classification);
  }

  ColumnPlan Output(const OutputColumn& output, std::optional<std::string>& refusal) const {
    ColumnPlan plan;
    plan.unlisted = output.unlisted;
    const Lineage& l = output.lineage;
    if (l.empty()) return plan;
    if (const std::optional<ProtectedColumnId> direct = l.DirectColumn()) {
      const Action a = ActionFor(*direct);
      if (a == Action::kDeny) {
        SetOnce(refusal, absl::StrFormat("pgmask: permission denied for column %s", Describe(*direct)));
      }
      if (a != Action::kClear) {
        plan.treatment = Treatment::kAction;
        plan.action = a;
        plan.column = direct;
      }
      return plan;
    }
    const std::optional<ProtectedColumnId> worst = StrictestHidden(Expand(policy_, l.Columns(), l.everything()));
    if (!worst) return plan;
    if (ActionFor(*worst) == Action::kDeny) {
      SetOnce(refusal, absl::StrFormat("pgmask: permission denied: output column \"%s\" is computed from column %s%s",
                                       output.name, Describe(*worst),
                                       l.everything() ? ", as far as pgmask can tell" : ""));
    }
    plan.treatment = Treatment::kRedact;
    return plan;
  }

  static void SetOnce(std::optional<std::string>& slot, std::string message) {
    if (!slot) slot = std::move(message);
  }

 private:
  const Policy& policy_;
  const EffectiveActions& actions_;
};

ColumnPlan Strictest(const std::vector<ColumnPlan>& plans, size_t from) {
  ColumnPlan plan;
  plan.unlisted = true;
  for (size_t i = from; i < plans.size(); ++i) {
    if (plans[i].treatment != Treatment::kClear) plan.treatment = Treatment::kRedact;
  }
  return plan;
}

}  // namespace

ColumnPlan StatementDecision::ForField(size_t field, size_t field_count) const {
  size_t unlisted = 0;
  size_t first = columns.size();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!columns[i].unlisted) continue;
    if (unlisted++ == 0) first = i;
  }
  if (unlisted == 0) {
    if (field_count == columns.size() && field < columns.size()) return columns[field];
    // Fields the analysis does not account for, such as the rows of an administrator's DO ALSO
    // SELECT rule after an INSERT analysed as returning nothing, could hold anything.
    return ColumnPlan{.treatment = Treatment::kRedact, .unlisted = true};
  }
  if (unlisted == 1 && field_count + 1 >= columns.size()) {
    const size_t width = field_count + 1 - columns.size();
    if (field < first) return columns[field];
    if (field < first + width) return columns[first];
    return columns[field + 1 - width];
  }
  return field < first ? columns[field] : Strictest(columns, first);
}

bool IsRestricted(const Policy& policy, const EffectiveActions& actions) {
  for (size_t c = 0; c < policy.classifications().size(); ++c) {
    if (actions.For(c) != Action::kClear) return true;
  }
  return false;
}

std::string UnparsableRefusal() {
  return "pgmask: statement refused: it could not be parsed, so it cannot be shown to be safe";
}

std::string ColumnDisplayName(const Policy& policy, ProtectedColumnId column) {
  const TableRule& table = policy.tables()[column.table_index];
  return absl::StrFormat("%s.%s.%s", QuoteIdentifierIfNeeded(table.schema), QuoteIdentifierIfNeeded(table.name),
                         QuoteIdentifierIfNeeded(table.columns[column.column_index].name));
}

StatementDecision Decide(const StatementAnalysis& analysis, const Policy& policy, const EffectiveActions& actions) {
  StatementDecision d;
  if (!IsRestricted(policy, actions)) {
    for (const OutputColumn& o : analysis.outputs) d.columns.push_back({Treatment::kClear, Action::kClear, {}, o.unlisted});
    return d;
  }
  const Decider decider(policy, actions);
  if (!analysis.refusals.empty()) d.refusal = absl::StrFormat("pgmask: statement refused: %s", analysis.refusals.front());
  for (const OutputColumn& o : analysis.outputs) d.columns.push_back(decider.Output(o, d.refusal));
  for (const DataWrite& w : analysis.writes) {
    const std::vector<ProtectedColumnId> ids = Expand(policy, w.lineage.Columns(), w.lineage.everything());
    if (const std::optional<ProtectedColumnId> hidden = decider.StrictestHidden(ids)) {
      Decider::SetOnce(d.refusal, absl::StrFormat("pgmask: statement refused: it copies column %s into %s",
                                                  decider.Describe(*hidden), w.target));
    }
  }
  const bool inference_allowed = policy.settings().inference == Inference::kAllow;
  for (const ColumnUsage& u : analysis.usages) {
    const std::vector<ProtectedColumnId> ids = Expand(policy, u.columns, u.everything);
    bool equality_allowed = u.equality_only;
    for (ProtectedColumnId id : ids) equality_allowed = equality_allowed && decider.RevealsOnlyEquality(id);
    for (ProtectedColumnId id : ids) {
      const Action a = decider.ActionFor(id);
      if (a == Action::kClear) continue;
      // A column the role may not see at all stays out of predicates too, whatever the setting.
      const bool allowed = a != Action::kDeny && (equality_allowed || inference_allowed);
      d.findings.push_back({id, u.clause, u.equality_only, a, allowed});
      if (allowed) continue;
      Decider::SetOnce(d.refusal,
                       a == Action::kDeny
                           ? absl::StrFormat("pgmask: statement refused: column %s is used in %s, and this role may "
                                             "not see it at all",
                                             decider.Describe(id), UsageClauseName(u.clause))
                           : absl::StrFormat("pgmask: statement refused: column %s is used in %s, and this role "
                                             "does not see it in clear (settings.inference: deny)",
                                             decider.Describe(id), UsageClauseName(u.clause)));
    }
  }
  return d;
}

}  // namespace pgmask::policy
