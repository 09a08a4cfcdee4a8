#include "policy/effective_action.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy_loader.h"

namespace pgmask::policy {
namespace {

constexpr char kPolicy[] = R"yaml(version: 1
classifications:
  PHI: { tier: restricted }
  PII: { tier: confidential }
  PCI: { tier: restricted }
roles:
  app_backend: { default: clear }
  analyst:     { PII: tokenize, PHI: mask, PCI: deny }
  support:     { PII: mask, PHI: deny, PCI: mask }
  nurse:       { PHI: clear }
  blank:       {}
  "*":         { default: null, PCI: deny }
)yaml";

constexpr char kNoDefault[] = R"yaml(version: 1
classifications:
  PHI: { tier: restricted }
roles:
  doctor: { PHI: clear }
)yaml";

struct ActionCase {
  std::string name;
  const char* policy;
  std::vector<std::string> roles;
  std::vector<Action> want;  // per classification, in file order
  std::vector<std::string> matched;
};

const ActionCase kCases[] = {
    {"ClearRole", kPolicy, {"app_backend"}, {Action::kClear, Action::kClear, Action::kClear}, {"app_backend"}},
    {"Analyst", kPolicy, {"alice", "analyst"}, {Action::kMask, Action::kTokenize, Action::kDeny}, {"analyst"}},
    {"AnalystAndSupportTakeMostPermissive", kPolicy, {"analyst", "support"},
     {Action::kMask, Action::kTokenize, Action::kMask}, {"analyst", "support"}},
    {"UnlistedGetsStar", kPolicy, {"mallory"}, {Action::kNull, Action::kNull, Action::kDeny}, {}},
    {"NoRolesGetsStar", kPolicy, {}, {Action::kNull, Action::kNull, Action::kDeny}, {}},
    {"ListedRoleWithoutClassFallsBackToStar", kPolicy, {"nurse"},
     {Action::kClear, Action::kNull, Action::kDeny}, {"nurse"}},
    {"EmptyRoleIsStar", kPolicy, {"blank"}, {Action::kNull, Action::kNull, Action::kDeny}, {"blank"}},
    {"StarIsNotARoleOneBelongsTo", kPolicy, {"*"}, {Action::kNull, Action::kNull, Action::kDeny}, {}},
    {"NamesAreCaseSensitive", kPolicy, {"Analyst"}, {Action::kNull, Action::kNull, Action::kDeny}, {}},
    {"NoStarMeansMask", kNoDefault, {"nobody"}, {Action::kMask}, {}},
    {"NoStarListedRole", kNoDefault, {"doctor"}, {Action::kClear}, {"doctor"}},
};

class EffectiveActionTest : public testing::TestWithParam<ActionCase> {};

TEST_P(EffectiveActionTest, Resolves) {
  const ActionCase& c = GetParam();
  absl::StatusOr<std::shared_ptr<const Policy>> policy = LoadPolicyString(c.policy, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const EffectiveActions actions = ResolveEffectiveActions(**policy, c.roles);
  EXPECT_EQ(actions.all(), c.want);
  EXPECT_EQ(actions.matched_roles(), c.matched);
  EXPECT_EQ(actions.For(99), Action::kDeny);
}

INSTANTIATE_TEST_SUITE_P(Cases, EffectiveActionTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<ActionCase>& info) { return info.param.name; });

TEST(ActionTest, OrderIsMostToLeastPermissive) {
  EXPECT_EQ(MorePermissive(Action::kDeny, Action::kClear), Action::kClear);
  EXPECT_EQ(MorePermissive(Action::kNull, Action::kMask), Action::kMask);
  EXPECT_EQ(MorePermissive(Action::kTokenize, Action::kMask), Action::kTokenize);
  EXPECT_EQ(ParseAction("tokenize"), Action::kTokenize);
  EXPECT_EQ(ParseAction("Clear"), std::nullopt);
}

}  // namespace
}  // namespace pgmask::policy
