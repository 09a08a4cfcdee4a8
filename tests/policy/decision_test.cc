#include "policy/decision.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/analyzer.h"
#include "policy/effective_action.h"
#include "policy/sql_parse.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::policy {
namespace {

struct Case {
  std::string name;
  std::string role;
  std::string sql;
  std::string plan;          // per output column: clear, tokenize, mask, null, redact
  std::string refusal = "";  // substring of the refusal; empty: runs
  std::string findings = "";  // "patients.ssn WHERE allowed", ";"-separated
  std::string inference = "deny";
};

std::string TreatmentText(const ColumnPlan& p) {
  switch (p.treatment) {
    case Treatment::kClear: return "clear";
    case Treatment::kRedact: return "redact";
    case Treatment::kAction: return std::string(ActionName(p.action));
  }
  return "?";
}

class DecideTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecideTest, Decides) {
  const Case& c = GetParam();
  const auto policy = testing::TestPolicy(c.inference);
  ASSERT_NE(policy, nullptr);
  const CatalogView catalog(testing::TestCatalogData());
  auto parsed = ParsedSql::Parse(c.sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<StatementAnalysis> analyses = AnalyzeStatements(*parsed, *policy, catalog);
  ASSERT_EQ(analyses.size(), 1u);
  const std::vector<std::string> roles = {c.role};
  const EffectiveActions actions = ResolveEffectiveActions(*policy, roles);
  const StatementDecision d = Decide(analyses[0], *policy, actions);
  if (c.refusal.empty()) {
    EXPECT_FALSE(d.refusal.has_value()) << *d.refusal;
  } else {
    ASSERT_TRUE(d.refusal.has_value());
    EXPECT_NE(d.refusal->find(c.refusal), std::string::npos) << *d.refusal;
  }
  std::string plan;
  for (const ColumnPlan& p : d.columns) plan += (plan.empty() ? "" : ",") + TreatmentText(p);
  EXPECT_EQ(plan, c.plan);
  std::string findings;
  for (const InferenceFinding& f : d.findings) {
    findings += (findings.empty() ? "" : "; ") + testing::ShortName(*policy, f.column) + " " +
                std::string(testing::ClauseCode(f.clause)) + (f.allowed ? " allowed" : " refused");
  }
  EXPECT_EQ(findings, c.findings);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DecideTest,
    ::testing::Values(
        Case{"DirectTokenize", "analyst", "SELECT ssn FROM patients", "tokenize"},
        Case{"DirectMask", "analyst", "SELECT diagnosis FROM patients", "mask"},
        Case{"DirectDeny", "analyst", "SELECT card_number FROM billing.payments", "deny",
             "permission denied for column billing.payments.card_number (class PCI)"},
        Case{"DerivedRedact", "analyst", "SELECT upper(email) FROM patients", "redact"},
        Case{"DerivedFromDeny", "analyst", "SELECT length(card_number) AS n FROM billing.payments", "redact",
             "output column \"n\" is computed from column billing.payments.card_number (class PCI)"},
        Case{"Unprotected", "analyst", "SELECT id, name FROM patients", "clear,clear"},
        Case{"ClearRoleIsNotRestricted", "app", "SELECT ssn FROM patients WHERE ssn = 'x'", "clear"},
        Case{"ClearRoleMayUseAnything", "app", "SELECT pg_read_file('/etc/passwd')", "clear"},
        Case{"DefaultRoleMasks", "nobody", "SELECT ssn, email FROM patients", "mask,mask"},
        Case{"DeniedClassInPredicate", "support", "SELECT id FROM patients WHERE diagnosis = 'x'", "clear",
             "column public.patients.diagnosis (class PHI) is used in WHERE, and this role may not see it at all",
             "patients.diagnosis WHERE refused"},
        Case{"InferenceDenyWhere", "analyst", "SELECT id FROM patients WHERE ssn = '1'", "clear",
             "column public.patients.ssn (class PII) is used in WHERE, and this role does not see it in clear",
             "patients.ssn WHERE refused"},
        Case{"TokenizedEqualityJoin", "analyst", "SELECT p.id FROM patients p JOIN patients q ON p.ssn = q.ssn",
             "clear", "", "patients.ssn JOIN allowed"},
        Case{"TokenizedGroupBy", "analyst", "SELECT ssn, count(*) FROM patients GROUP BY ssn", "tokenize,clear", "",
             "patients.ssn GROUP allowed"},
        Case{"MaskedGroupByRefused", "analyst", "SELECT diagnosis, count(*) FROM patients GROUP BY diagnosis",
             "mask,clear", "is used in GROUP BY", "patients.diagnosis GROUP refused"},
        Case{"HashedGroupBy", "analyst", "SELECT insurer_id, count(*) FROM patients GROUP BY 1", "mask,clear", "",
             "patients.insurer_id GROUP allowed"},
        Case{"TokenizedJoinAgainstClearValues", "analyst",
             "SELECT v.id FROM visits v JOIN patients p ON p.ssn = v.ssn", "clear", "is used in a join condition",
             "patients.ssn JOIN refused"},
        Case{"TokenizedDistinct", "analyst", "SELECT DISTINCT email FROM patients", "tokenize", "",
             "patients.email DISTINCT allowed"},
        // Equality on tokens is allowed because tokens reveal equality anyway; a literal routed
        // through a UNION is not a token, so the join would test the column against a guess.
        Case{"TokenizedJoinThroughALiteralBranchRefused", "analyst",
             "SELECT p.id FROM patients p JOIN (SELECT ssn AS v FROM patients WHERE false UNION ALL "
             "SELECT '819-66-8960') x ON p.ssn = x.v",
             "clear", "is used in a join condition", "patients.ssn JOIN refused"},
        Case{"OrderByTokenizedRefused", "analyst", "SELECT id FROM patients ORDER BY ssn", "clear",
             "is used in ORDER BY", "patients.ssn ORDER refused"},
        Case{"CycleColumnRefused", "analyst",
             "WITH RECURSIVE t(v, n) AS (SELECT ssn, 1 FROM patients WHERE id = 1 UNION ALL "
             "SELECT '819-66-8960', n + 1 FROM t WHERE n < 5) CYCLE v SET c USING pth SELECT count(*) FROM t",
             "clear", "column public.patients.ssn (class PII) is used in a condition", "patients.ssn COND refused"},
        Case{"CaseWhenRefused", "analyst", "SELECT CASE WHEN diagnosis = 'flu' THEN 1 END AS c FROM patients",
             "redact", "is used in a condition", "patients.diagnosis COND refused"},
        Case{"InferenceAllowRecords", "analyst", "SELECT id FROM patients WHERE ssn = '1'", "clear", "",
             "patients.ssn WHERE allowed", "allow"},
        // Whether the division fails tells whether the first digit is 8, though the result is redacted.
        Case{"ErrorOracleRefused", "analyst", "SELECT 1/(ascii(substr(ssn, 1, 1)) - 56) FROM patients", "redact",
             "is used in a computation that can fail on its value", "patients.ssn FALLIBLE refused"},
        Case{"ErrorOracleAllowedAndRecorded", "analyst", "SELECT ssn::int FROM patients", "redact", "",
             "patients.ssn FALLIBLE allowed", "allow"},
        Case{"ErrorOracleOfAClearColumnRuns", "app", "SELECT ssn::int FROM patients", "clear"},
        Case{"RowCountOracleRefused", "analyst",
             "SELECT count(*) FROM patients p, regexp_matches(p.ssn, '^819') m WHERE p.id = 1", "clear",
             "column public.patients.ssn (class PII) is used in a condition",
             "patients.ssn COND refused; patients.ssn FALLIBLE refused"},
        Case{"RowCountOracleOfDeniedClassRefused", "support",
             "SELECT count(*) FROM patients p, regexp_matches(p.diagnosis, '^f') m", "clear",
             "column public.patients.diagnosis (class PHI)",
             "patients.diagnosis COND refused; patients.diagnosis FALLIBLE refused"},
        Case{"RowCountOracleAllowedAndRecorded", "analyst",
             "SELECT count(*) FROM patients p, unnest(string_to_array(p.ssn, '8')) u", "clear", "",
             "patients.ssn COND allowed; patients.ssn FALLIBLE allowed", "allow"},
        Case{"RowCountOfAClearColumnRuns", "app", "SELECT count(*) FROM patients p, regexp_matches(p.ssn, '^819') m",
             "clear"},
        Case{"InferenceAllowKeepsDenyOut", "analyst", "SELECT id FROM billing.payments WHERE card_number = '4111'",
             "clear", "may not see it at all", "payments.card_number WHERE refused", "allow"},
        Case{"UntraceableFunction", "analyst", "SELECT * FROM evil_fn()", "redact",
             "function evil_fn is not built in and not listed in settings.trusted_functions"},
        Case{"UntraceableWithoutDenyRedacts", "nobody", "SELECT x FROM nosuch", "redact"},
        Case{"UntraceableWithDenyRefuses", "analyst", "SELECT x FROM nosuch", "redact", "as far as pgmask can tell"},
        Case{"CopyIntoTableRefused", "analyst", "INSERT INTO visits (note) SELECT email FROM patients", "",
             "copies column public.patients.email (class PII) into table visits (column note)"},
        Case{"CopyUnprotectedAllowed", "analyst", "INSERT INTO visits (note) SELECT name FROM patients", ""},
        Case{"NotificationRefused", "analyst", "SELECT pg_notify('c', email) FROM patients", "redact",
             "into a notification payload", "patients.email FALLIBLE refused"},
        // Under allow too: a value kept in a sequence or a lock key is a copy, not an inference.
        Case{"SequenceRefusedUnderAllow", "analyst", "SELECT setval('s', ascii(email)) FROM patients", "redact",
             "copies column public.patients.email (class PII) into a sequence (last_value)",
             "patients.email FALLIBLE allowed", "allow"},
        Case{"AdvisoryLockRefusedUnderAllow", "analyst", "SELECT pg_try_advisory_xact_lock(hashtext(email)) FROM patients",
             "redact", "into an advisory lock key (pg_locks)", "patients.email FALLIBLE allowed", "allow"},
        Case{"ReadingSettingRefused", "analyst", "SET standard_conforming_strings = off", "",
             "standard_conforming_strings may only be on"},
        Case{"ReadingSettingAllowedForClearRole", "app", "SET standard_conforming_strings = off", ""},
        // A view's filters run whenever it is read; a row security policy's on every statement.
        Case{"ViewFilterRefused", "analyst", "CREATE VIEW v8 AS SELECT id FROM patients WHERE ssn LIKE '8%'", "",
             "column public.patients.ssn", "patients.ssn WHERE refused"},
        Case{"ViewWithoutFilterRuns", "analyst", "CREATE VIEW v AS SELECT id, upper(ssn) AS s FROM patients", ""},
        Case{"ViewFilterAllowedForClearRole", "app", "CREATE VIEW v8 AS SELECT id FROM patients WHERE ssn LIKE '8%'",
             ""},
        Case{"RowSecurityPolicyRefused", "analyst",
             "CREATE POLICY p ON visits USING (EXISTS (SELECT 1 FROM patients WHERE ssn LIKE '8%'))", "",
             "column public.patients.ssn", "patients.ssn WHERE refused"},
        Case{"RowSecurityPolicyOnOwnColumnsRuns", "analyst", "ALTER POLICY p ON patients USING (id < 10)", ""},
        Case{"ShadowingDomainRefused", "analyst", "CREATE DOMAIN pg_temp.name AS pg_catalog.text CHECK (value !~ '^8')",
             "", "creating or renaming a type, domain or relation named name is not allowed for restricted roles"},
        Case{"ShadowingDomainAllowedForClearRole", "app",
             "CREATE DOMAIN pg_temp.name AS pg_catalog.text CHECK (value !~ '^8')", ""},
        Case{"SessionAuthorizationRefused", "support", "SET SESSION AUTHORIZATION postgres", "",
             "SET SESSION AUTHORIZATION"},
        Case{"UnionOfTwoColumnsRedacts", "analyst", "SELECT ssn FROM patients UNION ALL SELECT email FROM patients",
             "redact"},
        Case{"ViewColumnGetsItsAction", "analyst", "SELECT ssn, email_upper FROM patient_view", "tokenize,redact"},
        Case{"PartitionColumnGetsItsAction", "analyst", "SELECT reading FROM measurements_2024", "mask"},
        Case{"StarMixesActions", "support", "SELECT * FROM billing.payments", "clear,clear,mask,clear"},
        Case{"ReturningMasks", "analyst", "DELETE FROM patients WHERE id = 1 RETURNING ssn", "tokenize"},
        Case{"CopyOutMasks", "nobody", "COPY patients (ssn, id) TO STDOUT", "mask,clear"}),
    [](const auto& info) { return info.param.name; });

TEST(StatementDecision, ForFieldWithoutUnlistedColumns) {
  StatementDecision d;
  d.columns = {{Treatment::kClear, Action::kClear, std::nullopt}, {Treatment::kAction, Action::kMask, ProtectedColumnId{0, 0}}};
  EXPECT_EQ(d.ForField(0, 2).treatment, Treatment::kClear);
  EXPECT_EQ(d.ForField(1, 2).treatment, Treatment::kAction);
  // The server sent a different shape than the analysis saw: every field redacted.
  EXPECT_EQ(d.ForField(0, 3).treatment, Treatment::kRedact);
}

TEST(StatementDecision, ForFieldOfAStatementAnalysedAsReturningNothingRedacts) {
  // An INSERT returns the rows of an administrator's DO ALSO SELECT rule, which it does not name.
  EXPECT_EQ(StatementDecision{}.ForField(0, 3).treatment, Treatment::kRedact);
  StatementDecision clear;
  clear.columns = {{Treatment::kClear, Action::kClear, std::nullopt}};
  EXPECT_EQ(clear.ForField(1, 2).treatment, Treatment::kRedact);
}

TEST(StatementDecision, ForFieldSpreadsOneUnlistedColumn) {
  StatementDecision d;
  d.columns = {{Treatment::kAction, Action::kTokenize, ProtectedColumnId{0, 0}},
               {Treatment::kClear, Action::kClear, std::nullopt, true},
               {Treatment::kRedact, Action::kClear, std::nullopt}};
  EXPECT_EQ(d.ForField(0, 5).treatment, Treatment::kAction);
  EXPECT_EQ(d.ForField(1, 5).treatment, Treatment::kClear);
  EXPECT_EQ(d.ForField(3, 5).treatment, Treatment::kClear);
  EXPECT_EQ(d.ForField(4, 5).treatment, Treatment::kRedact);
  // The unlisted column may stand for no field at all.
  EXPECT_EQ(d.ForField(1, 2).treatment, Treatment::kRedact);
}

TEST(StatementDecision, ForFieldAfterTwoUnlistedColumnsIsStrictest) {
  StatementDecision d;
  d.columns = {{Treatment::kClear, Action::kClear, std::nullopt},
               {Treatment::kClear, Action::kClear, std::nullopt, true},
               {Treatment::kAction, Action::kMask, ProtectedColumnId{0, 0}},
               {Treatment::kClear, Action::kClear, std::nullopt, true}};
  EXPECT_EQ(d.ForField(0, 6).treatment, Treatment::kClear);
  EXPECT_EQ(d.ForField(1, 6).treatment, Treatment::kRedact);
  EXPECT_EQ(d.ForField(5, 6).treatment, Treatment::kRedact);
}

TEST(Decide, UnparsableRefusalNamesNoText) {
  EXPECT_EQ(UnparsableRefusal().find("'"), std::string::npos);
  EXPECT_NE(UnparsableRefusal().find("could not be parsed"), std::string::npos);
}

TEST(Decide, RestrictedMeansAnyClassNotClear) {
  const auto policy = testing::TestPolicy();
  const std::vector<std::string> app = {"app"};
  const std::vector<std::string> analyst_and_app = {"analyst", "app"};
  const std::vector<std::string> analyst = {"analyst"};
  EXPECT_FALSE(IsRestricted(*policy, ResolveEffectiveActions(*policy, app)));
  EXPECT_FALSE(IsRestricted(*policy, ResolveEffectiveActions(*policy, analyst_and_app)));
  EXPECT_TRUE(IsRestricted(*policy, ResolveEffectiveActions(*policy, analyst)));
}

}  // namespace
}  // namespace pgmask::policy
