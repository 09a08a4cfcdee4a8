#include "proxy/connection_limits.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace pgmask::proxy {
namespace {

TEST(ConnectionLimits, OffAdmitsEveryone) {
  ConnectionLimits limits(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limits.Admit("alice", "app"), "");
}

TEST(ConnectionLimits, PerRole) {
  ConnectionLimits limits(2, 0);
  EXPECT_EQ(limits.Admit("alice", "app"), "");
  EXPECT_EQ(limits.Admit("alice", "other"), "");
  EXPECT_EQ(limits.Admit("alice", "app"), "too many connections for role \"alice\"");
  // Another role is counted apart.
  EXPECT_EQ(limits.Admit("bob", "app"), "");
  limits.Release("alice", "other");
  EXPECT_EQ(limits.Admit("alice", "app"), "");
}

TEST(ConnectionLimits, PerDatabase) {
  ConnectionLimits limits(0, 2);
  EXPECT_EQ(limits.Admit("alice", "app"), "");
  EXPECT_EQ(limits.Admit("bob", "app"), "");
  EXPECT_EQ(limits.Admit("carol", "app"), "too many connections for database \"app\"");
  EXPECT_EQ(limits.Admit("carol", "reports"), "");
  limits.Release("bob", "app");
  EXPECT_EQ(limits.Admit("carol", "app"), "");
}

TEST(ConnectionLimits, ARefusalCountsNothing) {
  ConnectionLimits limits(1, 1);
  EXPECT_EQ(limits.Admit("alice", "app"), "");
  // Refused for the database: bob's count must not grow, or he would be refused below.
  EXPECT_NE(limits.Admit("bob", "app"), "");
  EXPECT_EQ(limits.Admit("bob", "reports"), "");
  // Refused for the role: reports2's count must not grow.
  EXPECT_NE(limits.Admit("alice", "reports2"), "");
  EXPECT_EQ(limits.Admit("carol", "reports2"), "");
}

TEST(ConnectionLimits, ReleasingAtZeroOrUnknownIsHarmless) {
  ConnectionLimits limits(1, 0);
  limits.Release("nobody", "nowhere");
  EXPECT_EQ(limits.Admit("alice", "app"), "");
  limits.Release("alice", "app");
  limits.Release("alice", "app");
  EXPECT_EQ(limits.Admit("alice", "app"), "");
  EXPECT_NE(limits.Admit("alice", "app"), "");
}

TEST(ConnectionLimits, CountsStayExactAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  ConnectionLimits limits(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&limits] {
      for (int i = 0; i < kRounds; ++i) {
        // At most kThreads sessions of "shared" are ever open, so each is admitted.
        EXPECT_EQ(limits.Admit("shared", "app"), "");
        limits.Release("shared", "app");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(limits.Admit("shared", "app"), "");
  EXPECT_NE(limits.Admit("shared", "app"), "");
}

}  // namespace
}  // namespace pgmask::proxy
