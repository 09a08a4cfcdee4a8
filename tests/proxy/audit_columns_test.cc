#include "proxy/audit_columns.h"

#include <gtest/gtest.h>

#include "policy/policy_loader.h"

namespace pgmask::proxy {
namespace {

constexpr char kPolicy[] = R"yaml(version: 1
classifications:
  PII: { tier: confidential }
  PHI: { tier: restricted }
tables:
  public.patients:
    key: id
    columns:
      ssn: { class: PII, mask: redact }
      dob: { class: PHI, mask: "generalize(year)" }
roles:
  clerk: { PII: tokenize, PHI: clear }
)yaml";

const policy::ProtectedColumnId kSsn{0, 0};
const policy::ProtectedColumnId kDob{0, 1};

std::shared_ptr<const policy::Policy> TestPolicy() {
  auto p = policy::LoadPolicyString(kPolicy, "test.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

policy::EffectiveActions Clerk(const policy::Policy& p) {
  return policy::ResolveEffectiveActions(p, std::vector<std::string>{"clerk"});
}

TEST(AuditColumns, OutputsPredicatesAndDerivedValuesWithTheRolesActions) {
  policy::StatementAnalysis a;
  a.outputs.push_back({"ssn", policy::Lineage::Direct(kSsn), false});
  a.outputs.push_back({"year", policy::Lineage::Direct(kSsn).AsDerived(), false});
  a.outputs.push_back({"dob", policy::Lineage::Direct(kDob), false});
  policy::ColumnUsage where{policy::UsageClause::kWhere};
  where.columns.Insert(kDob);
  a.usages.push_back(where);
  policy::ColumnUsage order{policy::UsageClause::kOrderBy};
  order.columns.Insert(kSsn);
  a.usages.push_back(order);

  const AuditColumnRefs refs = AuditColumnRefsOf(a);
  EXPECT_FALSE(refs.everything);
  const auto p = TestPolicy();
  const std::vector<AuditColumn> columns = AuditColumnsFor(refs, *p, Clerk(*p));
  ASSERT_EQ(columns.size(), 4u);
  // ssn is both shown and computed from: recorded once, as the stricter (computed, redacted).
  EXPECT_EQ(columns[0].column, "public.patients.ssn");
  EXPECT_EQ(columns[0].action, "redact");
  EXPECT_EQ(columns[1].column, "public.patients.dob");
  EXPECT_EQ(columns[1].use, AuditColumnUse::kOutput);
  EXPECT_EQ(columns[1].action, "clear");
  EXPECT_EQ(columns[2].use, AuditColumnUse::kPredicate);
  EXPECT_EQ(columns[2].classification, "PHI");
  EXPECT_EQ(columns[3].column, "public.patients.ssn");
  EXPECT_EQ(columns[3].use, AuditColumnUse::kOther);
  EXPECT_EQ(columns[3].action, "tokenize");
}

TEST(AuditColumns, AnUntraceableValueStandsForEveryColumn) {
  policy::StatementAnalysis a;
  a.outputs.push_back({"x", policy::Lineage::Everything(), true});
  const AuditColumnRefs refs = AuditColumnRefsOf(a);
  EXPECT_TRUE(refs.everything);
  const auto p = TestPolicy();
  const std::vector<AuditColumn> columns = AuditColumnsFor(refs, *p, Clerk(*p));
  ASSERT_EQ(columns.size(), 1u);
  EXPECT_EQ(columns[0].column, "*");
  EXPECT_EQ(columns[0].action, "redact");
}

TEST(AuditColumns, NothingProtectedIsEmpty) {
  policy::StatementAnalysis a;
  a.outputs.push_back({"n", policy::Lineage(), false});
  EXPECT_TRUE(AuditColumnRefsOf(a).empty());
}

}  // namespace
}  // namespace pgmask::proxy
