// Statement analysis (BRIEF, "How a decision is made", step 2): each statement of a parsed
// query string, traced from the parse tree alone, before it reaches PostgreSQL.
//
// Fail closed throughout: a relation, column or function the catalog cannot resolve, a function
// returning records of unknown shape, a view that does not parse and nesting beyond
// kMaxAnalysisDepth all count as derived from every protected column, or as a refusal trigger.
//
// Meant to run once per distinct statement text and catalog (the proxy caches the result); a
// clear session (every action clear) needs no analysis at all.
#pragma once

#include <vector>

#include "policy/catalog_view.h"
#include "policy/policy.h"
#include "policy/sql_parse.h"
#include "policy/statement_analysis.h"

namespace pgmask::policy {

// Nesting of queries, expressions and FROM items the analyzer follows before it gives up on a
// statement (refusal trigger, every output untraceable). The parser accepts far deeper trees
// (thousands of chained operators); this bounds the analyzer's stack use.
inline constexpr int kMaxAnalysisDepth = 256;
// Views defined over views: followed this many levels deep, untraceable beyond.
inline constexpr int kMaxViewNesting = 16;
// Passes over a WITH RECURSIVE clause before its lineage is taken to have no fixed point.
inline constexpr int kMaxRecursivePasses = 8;

// One analysis per statement of `sql`, in order. Never fails: what cannot be analysed is a
// refusal trigger or untraceable lineage in the result.
std::vector<StatementAnalysis> AnalyzeStatements(const ParsedSql& sql, const Policy& policy,
                                                 const CatalogView& catalog);

}  // namespace pgmask::policy
