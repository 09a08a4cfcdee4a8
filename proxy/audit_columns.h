// Which protected columns a statement uses, and how, for the audit record's `columns`. The
// analysis gives a role-independent list (AuditColumnRefsOf, kept in the statement's plan); the
// session turns it into the record's entries with its own actions (AuditColumnsFor).
#pragma once

#include <vector>

#include "policy/effective_action.h"
#include "policy/lineage.h"
#include "policy/policy.h"
#include "policy/statement_analysis.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {

struct AuditColumnRef {
  policy::ProtectedColumnId column;
  AuditColumnUse use = AuditColumnUse::kOutput;
  bool derived = false;  // an output computed from the column, not the column itself
  bool operator==(const AuditColumnRef&) const = default;
};

struct AuditColumnRefs {
  std::vector<AuditColumnRef> refs;  // distinct, in the order first used
  bool everything = false;           // something untraceable: any protected column
  bool empty() const { return refs.empty() && !everything; }
};

// Outputs are `output`; WHERE, JOIN, HAVING and other conditions `predicate`; ordering,
// grouping, DISTINCT, windows, LIMIT, set operations and data written elsewhere `other`.
AuditColumnRefs AuditColumnRefsOf(const policy::StatementAnalysis& analysis);

// The record's entries: each column named "schema.table.column" with its class and the action
// the session's role gets for it ("redact" for a derived output the role does not see in clear).
// `everything` becomes one entry for column "*".
std::vector<AuditColumn> AuditColumnsFor(const AuditColumnRefs& refs, const policy::Policy& policy,
                                         const policy::EffectiveActions& actions);

}  // namespace pgmask::proxy
