#include "policy/output_references.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/policy_loader.h"

namespace pgmask::policy {
namespace {

constexpr std::string_view kPolicy = R"(version: 1
classifications:
  PII: { tier: confidential }
  PCI: { tier: restricted }
tables:
  public.patients:
    columns:
      ssn: { class: PII, mask: redact }
      email: { class: PII, mask: email }
  billing.payments:
    columns:
      card_number: { class: PCI, mask: redact }
roles:
  "*": { default: mask }
)";

struct Case {
  std::string name;
  std::string sql;
  std::vector<std::string> expected;  // table.column, sorted
};

class OutputReferencesTest : public ::testing::TestWithParam<Case> {};

TEST_P(OutputReferencesTest, FindsWhatCanReachTheOutput) {
  auto policy = LoadPolicyString(kPolicy, "test.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto parsed = ParsedSql::Parse(GetParam().sql);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  std::vector<std::string> found;
  for (const ProtectedReference& r : FindOutputReferences(**policy, *parsed)) {
    const TableRule& t = (*policy)->tables()[r.table_index];
    found.push_back(t.name + "." + t.columns[r.column_index].name);
  }
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OutputReferencesTest,
    ::testing::Values(
        Case{"PlainColumn", "SELECT ssn FROM patients", {"patients.ssn"}},
        Case{"Unprotected", "SELECT id, name FROM patients", {}},
        Case{"Star", "SELECT * FROM patients", {"patients.email", "patients.ssn"}},
        Case{"QualifiedStar", "SELECT p.* FROM patients p JOIN visits v ON true", {"patients.email", "patients.ssn"}},
        Case{"OtherTableStar", "SELECT v.* FROM patients p JOIN visits v ON true", {}},
        Case{"WholeRow", "SELECT p FROM patients p", {"patients.email", "patients.ssn"}},
        Case{"Alias", "SELECT x.ssn AS s FROM patients x", {"patients.ssn"}},
        Case{"Expression", "SELECT upper(ssn) || email FROM patients", {"patients.email", "patients.ssn"}},
        Case{"WhereIsNotOutput", "SELECT id FROM patients WHERE ssn = '1'", {}},
        Case{"Subquery", "SELECT s FROM (SELECT ssn AS s FROM patients) q", {"patients.ssn"}},
        Case{"ScalarSubquery", "SELECT (SELECT card_number FROM billing.payments LIMIT 1)", {"payments.card_number"}},
        Case{"Cte", "WITH c AS (SELECT card_number FROM billing.payments) SELECT * FROM c", {"payments.card_number"}},
        Case{"SchemaMustMatch", "SELECT card_number FROM public.payments", {}},
        Case{"UnqualifiedMatchesAnySchema", "SELECT card_number FROM payments", {"payments.card_number"}},
        Case{"Union", "SELECT 'x' UNION ALL SELECT email FROM patients", {"patients.email"}},
        Case{"Returning", "UPDATE patients SET name = 'a' RETURNING ssn", {"patients.ssn"}},
        Case{"UpdateSetIsNotOutput", "UPDATE patients SET ssn = 'a'", {}},
        Case{"CopyTable", "COPY patients TO STDOUT", {"patients.email", "patients.ssn"}},
        Case{"CopyColumns", "COPY patients (id, ssn) TO STDOUT", {"patients.ssn"}},
        Case{"CopyFromIsNotOutput", "COPY patients FROM STDIN", {}},
        Case{"CopyQuery", "COPY (SELECT email FROM patients) TO STDOUT", {"patients.email"}},
        Case{"MultiStatement", "SELECT 1; SELECT ssn FROM patients", {"patients.ssn"}},
        Case{"EachStatementOwnTables", "SELECT ssn FROM visits; SELECT 1 FROM patients", {}}),
    [](const auto& info) { return info.param.name; });

TEST(ParsedSql, RejectsWhatPostgresRejects) {
  EXPECT_FALSE(ParsedSql::Parse("SELEC 1").ok());
  EXPECT_FALSE(ParsedSql::Parse("SELECT 'unterminated").ok());
  EXPECT_TRUE(ParsedSql::Parse("").ok());
  EXPECT_FALSE(ParsedSql::Parse(std::string(1 << 16, '(')).ok());
  EXPECT_FALSE(ParsedSql::Parse(std::string("\xff\xfe\x00garbage", 10)).ok());
}

}  // namespace
}  // namespace pgmask::policy
