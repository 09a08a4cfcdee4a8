// Which protected columns a statement can put into its result (or COPY out), found from the parse
// tree alone, before the statement reaches PostgreSQL. Deliberately over-approximate: every
// column reference in any target list, RETURNING list or COPY column list counts, at any depth;
// `*`, `t.*` and whole-row references count as every column of their table; a table name without
// a schema matches the policy's table of that name in every schema. Enough to refuse `deny`
// columns safely; the full lineage analysis refines it.
#pragma once

#include <cstddef>
#include <vector>

#include "policy/policy.h"
#include "policy/sql_parse.h"

namespace pgmask::policy {

struct ProtectedReference {
  size_t table_index;   // into Policy::tables()
  size_t column_index;  // into TableRule::columns
  bool operator==(const ProtectedReference&) const = default;
};

// The protected columns that may reach the output of any statement in `sql`, each once.
std::vector<ProtectedReference> FindOutputReferences(const Policy& policy, const ParsedSql& sql);

}  // namespace pgmask::policy
