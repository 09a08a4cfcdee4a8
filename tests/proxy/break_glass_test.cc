#include "proxy/break_glass.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace pgmask::proxy {
namespace {

using Kind = BreakGlassCommand::Kind;

struct Case {
  std::string name;
  std::string sql;
  Kind kind;
  std::string reason;
};

class BreakGlassCommandTest : public ::testing::TestWithParam<Case> {};

TEST_P(BreakGlassCommandTest, Parses) {
  const Case& c = GetParam();
  const BreakGlassCommand cmd = ParseBreakGlassCommand(c.sql);
  EXPECT_EQ(cmd.kind, c.kind) << cmd.problem;
  EXPECT_EQ(cmd.reason, c.reason);
  if (cmd.kind == Kind::kInvalid) EXPECT_FALSE(cmd.problem.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BreakGlassCommandTest,
    ::testing::Values(
        Case{"set", "SET pgmask.break_glass = 'INC-123: outage'", Kind::kStart, "INC-123: outage"},
        Case{"set_to_session_case_comment_semicolon",
             "set session PGMASK.Break_Glass /* why */ TO ' INC-9: it''s down ';", Kind::kStart, "INC-9: it's down"},
        Case{"quoted_name", "SET \"pgmask\".\"break_glass\" = 'x'", Kind::kStart, "x"},
        Case{"reset", "RESET pgmask.break_glass", Kind::kEnd, ""},
        Case{"default", "SET pgmask.break_glass TO DEFAULT", Kind::kEnd, ""},
        Case{"empty_reason", "SET pgmask.break_glass = '   '", Kind::kInvalid, ""},
        Case{"escape_string", "SET pgmask.break_glass = E'x'", Kind::kInvalid, ""},
        Case{"local", "SET LOCAL pgmask.break_glass = 'x'", Kind::kInvalid, ""},
        Case{"with_another_statement", "SET pgmask.break_glass = 'x'; SELECT 1", Kind::kInvalid, ""},
        Case{"show", "SHOW pgmask.break_glass", Kind::kNone, ""},
        Case{"set_config", "SELECT set_config('pgmask.break_glass', 'x', false)", Kind::kNone, ""},
        Case{"other_setting", "SET pgmask.other = 'break_glass'", Kind::kNone, ""},
        Case{"unrelated", "SELECT 1", Kind::kNone, ""}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(BreakGlassDuration, TheEnvironmentCanOnlyShortenIt) {
  unsetenv("PGMASK_BREAK_GLASS_SECONDS");
  EXPECT_EQ(BreakGlassDuration(30), absl::Minutes(30));
  setenv("PGMASK_BREAK_GLASS_SECONDS", "1.5", 1);
  EXPECT_EQ(BreakGlassDuration(30), absl::Milliseconds(1500));
  setenv("PGMASK_BREAK_GLASS_SECONDS", "7200", 1);
  EXPECT_EQ(BreakGlassDuration(30), absl::Minutes(30));
  unsetenv("PGMASK_BREAK_GLASS_SECONDS");
}

}  // namespace
}  // namespace pgmask::proxy
