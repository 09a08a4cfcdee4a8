// The plan cache must never hand a statement a plan made for a different one. Texts that differ
// only in constants share a plan unless the analysis looked at a constant: each case plans the
// first text (filling the cache) and checks that the second gets what a cold cache gives it.
#include "proxy/query_plan.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "policy/effective_action.h"
#include "tests/policy/analysis_fixture.h"

namespace pgmask::proxy {
namespace {

struct Fixture {
  std::shared_ptr<const policy::Policy> policy = policy::testing::TestPolicy();
  std::shared_ptr<const policy::CatalogView> catalog =
      std::make_shared<const policy::CatalogView>(policy::testing::TestCatalogData());
  policy::EffectiveActions analyst = policy::ResolveEffectiveActions(*policy, std::vector<std::string>{"analyst"});

  QueryPlanPtr Plan(std::string_view sql) const { return PlanQuery(sql, policy, catalog, analyst); }

  // In a new thread, whose plan cache is empty.
  QueryPlanPtr ColdPlan(std::string_view sql) const {
    QueryPlanPtr plan;
    std::thread([&] { plan = Plan(sql); }).join();
    return plan;
  }
};

std::string Render(const QueryPlan& plan) {
  std::string out = absl::StrCat("refusal=", plan.refusal.value_or("-"), " touches=", plan.touches_protected,
                                 " settings=", plan.changes_settings, " copy=", plan.copy.has_value(),
                                 " copy_error=", plan.copy_error);
  if (plan.copy) absl::StrAppend(&out, " sql=", plan.copy->describe_sql, " delimiter=", plan.copy->delimiter.value_or("-"));
  for (const PlannedStatementPtr& s : plan.statements) {
    absl::StrAppend(&out, " | ", std::string(policy::StatementKindName(s->kind)), " name=", s->name,
                    " refusal=", s->decision.refusal.value_or("-"));
    for (const policy::ColumnPlan& c : s->decision.columns) {
      absl::StrAppend(&out, " col(", static_cast<int>(c.treatment), ",", static_cast<int>(c.action), ",",
                      c.column ? c.column->column_index : -1, ")");
    }
    for (const policy::InferenceFinding& f : s->decision.findings) {
      absl::StrAppend(&out, " finding(", f.column.column_index, ",", static_cast<int>(f.clause), ")");
    }
    for (const std::string& setting : s->search_path) absl::StrAppend(&out, " path=", setting);
  }
  return out;
}

struct Case {
  std::string first;
  std::string second;
};

class SharedPlanTest : public ::testing::TestWithParam<Case> {};

TEST_P(SharedPlanTest, SecondTextGetsItsOwnPlan) {
  const Fixture f;
  f.Plan(GetParam().first);
  EXPECT_EQ(Render(*f.Plan(GetParam().second)), Render(*f.ColdPlan(GetParam().second)));
}

INSTANTIATE_TEST_SUITE_P(
    Constants, SharedPlanTest,
    ::testing::Values(
        // Positions: a constant in ORDER BY, GROUP BY or DISTINCT ON may name an output column.
        Case{"SELECT ssn FROM patients ORDER BY 'x'", "SELECT ssn FROM patients ORDER BY 1"},
        Case{"SELECT ssn FROM patients ORDER BY 1", "SELECT ssn FROM patients ORDER BY 'x'"},
        Case{"SELECT name, ssn FROM patients ORDER BY 1", "SELECT name, ssn FROM patients ORDER BY 2"},
        Case{"SELECT name, ssn FROM patients ORDER BY 2", "SELECT name, ssn FROM patients ORDER BY 1"},
        Case{"SELECT name, diagnosis FROM patients GROUP BY 1, 2", "SELECT name, diagnosis FROM patients GROUP BY 1, 3"},
        Case{"SELECT DISTINCT ON (1) name, diagnosis FROM patients", "SELECT DISTINCT ON (2) name, diagnosis FROM patients"},
        Case{"SELECT name FROM patients UNION SELECT ssn FROM patients ORDER BY 1",
             "SELECT name FROM patients UNION SELECT ssn FROM patients ORDER BY 2"},
        // Settings named by constants.
        Case{"SELECT set_config('search_path', 'x', false)",
             "SELECT set_config('standard_conforming_strings', 'off', false)"},
        Case{"SELECT set_config('application_name', 'a', false) FROM patients",
             "SELECT set_config('backslash_quote', 'on', false) FROM patients"},
        Case{"SET search_path = x", "SET standard_conforming_strings = off"},
        Case{"SET application_name = 'x'", "SET client_encoding = 'LATIN1'"},
        // COPY options are constants.
        Case{"COPY patients TO STDOUT (DELIMITER ',')", "COPY patients TO STDOUT (DELIMITER '|')"},
        Case{"COPY (SELECT ssn FROM patients WHERE id = 1) TO STDOUT", "COPY (SELECT ssn FROM patients WHERE id = 2) TO STDOUT"},
        // Statements mixing kinds: the plan is shared only when every one ignores its constants.
        Case{"SELECT 1; SET application_name = 'a'", "SELECT 2; SET standard_conforming_strings = 'off'"},
        Case{"SELECT name FROM patients WHERE id = 1; SELECT ssn FROM patients ORDER BY 'a'",
             "SELECT name FROM patients WHERE id = 2; SELECT ssn FROM patients ORDER BY 1"},
        // Parameters written by the client are not constants.
        Case{"SELECT $1, 5", "SELECT $1, $2"},
        Case{"SELECT ssn FROM patients ORDER BY $1", "SELECT ssn FROM patients ORDER BY 1"},
        // Constants of other types in the same place.
        Case{"SELECT ssn, 1 FROM patients WHERE id = 1", "SELECT ssn, 'x' FROM patients WHERE id = '1'"},
        Case{"SELECT name FROM patients WHERE ssn = '1'", "SELECT name FROM patients WHERE ssn = NULL"},
        Case{"SELECT name FROM patients LIMIT 1", "SELECT name FROM patients LIMIT 2"},
        Case{"INSERT INTO visits (id, note) VALUES (1, 'a') RETURNING ssn",
             "INSERT INTO visits (id, note) VALUES (2, 'b') RETURNING ssn"},
        Case{"UPDATE patients SET name = 'a' WHERE id = 1 RETURNING email",
             "UPDATE patients SET name = 'b' WHERE id = 2 RETURNING email"}));

// Deferred constraint checks run at these and quote conflicting rows in their errors, so their
// error texts are hidden from restricted roles like those of statements naming protected columns.
TEST(PlanTouchesTest, StatementsThatRunDeferredChecksCountAsTouchingProtectedData) {
  const Fixture f;
  for (const char* sql : {"COMMIT", "END", "COMMIT AND CHAIN", "PREPARE TRANSACTION 'x'", "SET CONSTRAINTS ALL IMMEDIATE",
                          "SET CONSTRAINTS visits_fk DEFERRED"}) {
    EXPECT_TRUE(f.Plan(sql)->touches_protected) << sql;
  }
  for (const char* sql : {"BEGIN", "ROLLBACK", "SAVEPOINT s", "RELEASE SAVEPOINT s", "COMMIT PREPARED 'x'",
                          "SELECT name FROM patients"}) {
    EXPECT_FALSE(f.Plan(sql)->touches_protected) << sql;
  }
}

TEST(PlanCacheTest, TextsDifferingOnlyInConstantsShareOnePlan) {
  const Fixture f;
  const QueryPlanPtr first = f.Plan("SELECT name, ssn FROM patients WHERE id = 1");
  EXPECT_EQ(f.Plan("SELECT name, ssn FROM patients WHERE id = 2"), first);
  EXPECT_EQ(f.Plan("SELECT name, ssn FROM patients WHERE id = -300"), first);
  EXPECT_EQ(f.Plan("SELECT name, ssn FROM patients WHERE id = '7'"), first);
  EXPECT_NE(f.Plan("SELECT name, ssn FROM patients WHERE id = $1"), first);
}

TEST(PlanCacheTest, ConstantSensitivePlansAreNotShared) {
  const Fixture f;
  const QueryPlanPtr by_constant = f.Plan("SELECT ssn FROM patients ORDER BY 'x'");
  EXPECT_FALSE(by_constant->refusal.has_value());
  const QueryPlanPtr by_position = f.Plan("SELECT ssn FROM patients ORDER BY 1");
  EXPECT_NE(by_position, by_constant);
  // analyst sees ssn tokenized, and ordering reveals more than equality.
  ASSERT_TRUE(by_position->refusal.has_value());
  EXPECT_NE(by_position->refusal->find("patients.ssn"), std::string::npos) << *by_position->refusal;
}

TEST(PlanCacheTest, SearchPathIsPartOfTheKey) {
  const Fixture f;
  const auto private_first = std::make_shared<const policy::CatalogView>(
      f.catalog->snapshot(), std::vector<std::string>{"private", "public"});
  const QueryPlanPtr in_public = f.Plan("SELECT ssn FROM patients WHERE id = 1");
  const QueryPlanPtr in_private = PlanQuery("SELECT ssn FROM patients WHERE id = 2", f.policy, private_first, f.analyst);
  EXPECT_NE(in_private, in_public);
  EXPECT_EQ(Render(*in_private), Render(*[&] {
              QueryPlanPtr plan;
              std::thread([&] {
                plan = PlanQuery("SELECT ssn FROM patients WHERE id = 2", f.policy, private_first, f.analyst);
              }).join();
              return plan;
            }()));
}

}  // namespace
}  // namespace pgmask::proxy
