// A client's statement text on the way to PostgreSQL, as the proxy analyses it
// (proxy/query_plan.cc): the nesting check and libpg_query's parser (ParsedSql::Parse), then the
// statement analyzer and the decision for a restricted role (against the demo clinic policy and
// the offline catalog), whose plans must name real policy columns, and COPY ... TO STDOUT
// detection (FindCopyToClient), whose describe query must itself parse as one statement; and
// MaxParameterNumber, which sizes a refused Parse's parameters; and the plan cache's constant
// lexer (ConstantTokens), whose texts must be analysed alike with other constants.
// Input: the statement text (any bytes; a NUL ends it for libpg_query, as in a Query message).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <pg_query/pg_query.pb-c.h>

#include "policy/constant_tokens.h"
#include "policy/copy_statement.h"
#include "policy/nesting_check.h"
#include "policy/analyzer.h"
#include "policy/decision.h"
#include "policy/effective_action.h"
#include "policy/policy_loader.h"
#include "policy/sql_parse.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/policy/constant_substitution.h"

namespace pgmask::fuzz {
namespace {

// The demo's policy (tests/testdata/policy/clinic.yaml), inline so the target needs no files.
constexpr std::string_view kClinicPolicy = R"yaml(version: 1
classifications:
  PHI: { tier: restricted }
  PII: { tier: confidential }
  PCI: { tier: restricted }
tables:
  public.patients:
    key: id
    columns:
      ssn:     { class: PII, mask: "partial(0, 'XXX-XX-', 4)" }
      email:   { class: PII, mask: email }
      phone:   { class: PII, mask: "partial(0, '***-***-', 4)" }
      dob:     { class: PHI, mask: "generalize(year)" }
      address: { class: PII, mask: redact }
      name:    { class: PII, mask: "partial(1, '***', 0)" }
  public.visits:
    key: id
    columns:
      diagnosis:  { class: PHI, mask: redact }
      notes:      { class: PHI, mask: "redact('[redacted]')" }
      visited_at: { class: PHI, mask: "generalize(month)" }
  public.payments:
    key: id
    columns:
      card_number: { class: PCI, mask: "partial(0, '************', 4)" }
      amount:      { class: PCI, mask: "generalize(100)" }
roles:
  analyst: { PII: tokenize, PHI: mask, PCI: deny }
  "*":     { default: mask }
)yaml";

const policy::Policy& Clinic() {
  static const std::shared_ptr<const policy::Policy> policy = [] {
    auto loaded = policy::LoadPolicyString(kClinicPolicy, "clinic.yaml");
    if (!loaded.ok()) Fail("the clinic policy does not load");
    return *loaded;
  }();
  return *policy;
}

}  // namespace
}  // namespace pgmask::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask;
  const policy::Policy& clinic = fuzz::Clinic();
  const std::vector<uint8_t> bytes = fuzz::ExactCopy({data, size});
  const std::string_view sql(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  PGMASK_FUZZ_CHECK(policy::MaxParameterNumber(sql) >= 0);
  (void)policy::CheckNesting(sql, 4);
  static const policy::CatalogView catalog = policy::OfflineCatalog(clinic);
  // The plan cache's lexer: what it accepts is analysed alike with other constants.
  if (const std::optional<std::vector<policy::ConstantToken>> constants = policy::ConstantTokens(sql)) {
    const std::string other = policy::testing::WithOtherConstants(sql, *constants);
    PGMASK_FUZZ_CHECK(policy::testing::AnalysedAlike(sql, other, clinic, catalog));
  }
  const absl::StatusOr<policy::ParsedSql> parsed = policy::ParsedSql::Parse(sql);
  if (!parsed.ok()) return 0;
  static const policy::EffectiveActions analyst = policy::ResolveEffectiveActions(clinic, {"analyst"});
  for (const policy::StatementAnalysis& a : policy::AnalyzeStatements(*parsed, clinic, catalog)) {
    const policy::StatementDecision d = policy::Decide(a, clinic, analyst);
    PGMASK_FUZZ_CHECK(d.columns.size() == a.outputs.size());
    for (size_t fields : {size_t{0}, a.outputs.size(), a.outputs.size() + 3}) {
      for (size_t f = 0; f < fields; ++f) {
        const policy::ColumnPlan plan = d.ForField(f, fields);
        if (!plan.column) continue;
        PGMASK_FUZZ_CHECK(plan.column->table_index < clinic.tables().size());
        PGMASK_FUZZ_CHECK(plan.column->column_index < clinic.tables()[plan.column->table_index].columns.size());
      }
    }
  }
  const absl::StatusOr<std::optional<policy::CopyToClient>> copy = policy::FindCopyToClient(*parsed);
  if (copy.ok() && copy->has_value()) {
    // An unknown FORMAT is left for the server to refuse; the describe query must still parse.
    const absl::StatusOr<policy::ParsedSql> describe = policy::ParsedSql::Parse((*copy)->describe_sql);
    PGMASK_FUZZ_CHECK(describe.ok());
    PGMASK_FUZZ_CHECK(describe->tree().n_stmts == 1);
  }
  return 0;
}
