// A restricted session's verdict on one analysed statement (BRIEF, "How a decision is made"):
// refuse it with SQLSTATE 42501, or run it with a plan per output column, plus the inference
// findings the audit trail records.
//
// How the proxy uses it, per statement of a Query or Parse message:
//   if (!IsRestricted(policy, actions)) -> forward untouched; nothing is analysed.
//   parse fails                        -> refuse with UnparsableRefusal().
//   analyses = AnalyzeStatements(parsed, policy, catalog)   (cached by statement text + catalog)
//   for each analysis: d = Decide(analysis, policy, actions);
//     d.refusal                         -> refuse the whole message's statement with it;
//     else for RowDescription field i of n: d.ForField(i, n) says clear / mask with the
//          column's action (MaskSpecForAction(plan.action, rule of plan.column)) / redact;
//     EXECUTE and FETCH use the plan remembered for the PREPARE / DECLARE of analysis.name.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/effective_action.h"
#include "policy/lineage.h"
#include "policy/policy.h"
#include "policy/statement_analysis.h"

namespace pgmask::policy {

inline constexpr std::string_view kRefusalSqlState = "42501";

enum class Treatment {
  kClear,   // forward unchanged
  kAction,  // a direct reference: apply `action` (tokenize, mask or null) with `column`'s rule
  kRedact,  // derived from a protected column the role does not see clear: full redaction
};

struct ColumnPlan {
  Treatment treatment = Treatment::kClear;
  Action action = Action::kClear;           // kAction only
  std::optional<ProtectedColumnId> column;  // kAction only
  bool unlisted = false;                    // stands for an unknown number of fields
  bool operator==(const ColumnPlan&) const = default;
};

struct InferenceFinding {
  ProtectedColumnId column;
  UsageClause clause = UsageClause::kWhere;
  bool equality_only = false;
  Action action = Action::kMask;  // what the role sees of the column
  // Allowed: tokenized/hashed equality, or settings.inference allow (recorded for the audit).
  bool allowed = false;
};

struct StatementDecision {
  // Set when the statement must not run: the ErrorResponse message (SQLSTATE 42501). Names the
  // column and class and why, never a value.
  std::optional<std::string> refusal;
  std::vector<ColumnPlan> columns;  // one per StatementAnalysis::outputs entry
  std::vector<InferenceFinding> findings;

  // The plan for field `field` of a RowDescription (or COPY row) of `field_count` fields. Maps
  // an unlisted output over the fields it stands for when it is the only one; otherwise every
  // field from the first unlisted one on gets the strictest plan among the candidates (redact
  // unless all are clear). Without unlisted outputs, a count that does not match redacts every
  // field: the analysis does not account for them.
  ColumnPlan ForField(size_t field, size_t field_count) const;
};

// Whether the session's actions make it restricted (some class not clear). Clear sessions keep
// full transparency: the proxy neither analyses nor refuses their statements.
bool IsRestricted(const Policy& policy, const EffectiveActions& actions);

// The verdict for a restricted session; for a clear one, every column clear and no refusal.
StatementDecision Decide(const StatementAnalysis& analysis, const Policy& policy, const EffectiveActions& actions);

// The refusal for a statement the parser rejects (restricted sessions only). Does not repeat
// the parser's message, which quotes the statement text.
std::string UnparsableRefusal();

// "public.patients.ssn", quoted where SQL would need it.
std::string ColumnDisplayName(const Policy& policy, ProtectedColumnId column);

}  // namespace pgmask::policy
