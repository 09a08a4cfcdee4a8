#include "proxy/xid_snapshot.h"

#include <gtest/gtest.h>

#include <string>

namespace pgmask::proxy {
namespace {

XidSnapshot S(const std::string& text) {
  auto s = XidSnapshot::Parse(text);
  EXPECT_TRUE(s.ok()) << text;
  return s.ok() ? *s : XidSnapshot{};
}

TEST(XidSnapshotTest, Parses) {
  const XidSnapshot s = S("100:105:103,101");
  EXPECT_EQ(s.xmin, 100u);
  EXPECT_EQ(s.xmax, 105u);
  EXPECT_EQ(s.in_progress, (std::vector<uint64_t>{101, 103}));
  EXPECT_TRUE(S("7:7:").in_progress.empty());
}

TEST(XidSnapshotTest, RejectsMalformed) {
  for (const char* text : {"", "1:2", "1:2:3:4", "a:2:", "5:4:", "1:5:7", "1:5:x", "1:5:,"}) {
    EXPECT_FALSE(XidSnapshot::Parse(text).ok()) << text;
  }
}

struct Case {
  std::string name;
  std::string later;
  std::string earlier;
  bool sees_all;
};

class SeesAllOfTest : public ::testing::TestWithParam<Case> {};

TEST_P(SeesAllOfTest, Compares) {
  const Case& c = GetParam();
  EXPECT_EQ(S(c.later).SeesAllOf(S(c.earlier)), c.sees_all);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SeesAllOfTest,
    ::testing::Values(Case{"same", "100:105:101", "100:105:101", true},
                      Case{"taken_later", "103:110:104,108", "100:105:101,104", true},
                      // An imported snapshot older than the read: 105..109 may have committed DDL.
                      Case{"older_xmax", "100:105:", "100:110:", false},
                      // 102 was still running for the transaction but had finished for the read.
                      Case{"finished_since", "100:110:102", "100:110:", false},
                      Case{"still_running", "100:110:102", "101:110:102", true},
                      Case{"started_after_read", "100:120:115", "100:110:", true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace pgmask::proxy
