#include "policy/statement_analysis.h"

namespace pgmask::policy {

std::string_view UsageClauseName(UsageClause clause) {
  switch (clause) {
    case UsageClause::kWhere: return "WHERE";
    case UsageClause::kJoin: return "a join condition";
    case UsageClause::kHaving: return "HAVING";
    case UsageClause::kOrderBy: return "ORDER BY";
    case UsageClause::kGroupBy: return "GROUP BY";
    case UsageClause::kDistinct: return "DISTINCT";
    case UsageClause::kDistinctOn: return "DISTINCT ON";
    case UsageClause::kWindow: return "a window clause";
    case UsageClause::kLimit: return "LIMIT/OFFSET";
    case UsageClause::kSetOperation: return "INTERSECT/EXCEPT";
    case UsageClause::kCondition: return "a condition";
    case UsageClause::kFallible: return "a computation that can fail on its value";
    case UsageClause::kUniqueCheck: return "a write checked against a unique index";
    case UsageClause::kForeignKeyCheck: return "a write checked against a foreign key to it";
    case UsageClause::kReplaced: return "an update that compares it with its new value";
  }
  return "a condition";
}

}  // namespace pgmask::policy
