#include "proxy/pending_responses.h"

#include <gtest/gtest.h>

namespace pgmask::proxy {
namespace {

TEST(PendingResponsesTest, AnErrorBeforeTheClientsSyncBelongsToTheClient) {
  PendingResponses pending;
  pending.Push(PendingKind::kDescribePortal, "", /*injected=*/true);
  pending.Push(PendingKind::kExecute, "");
  pending.Push(PendingKind::kSync);
  EXPECT_TRUE(pending.DropUntilSync());
  ASSERT_FALSE(pending.empty());
  EXPECT_EQ(pending.front().kind, PendingKind::kSync);
}

TEST(PendingResponsesTest, AnErrorBeforePgmasksOwnSyncIsPgmasks) {
  PendingResponses pending;
  pending.Push(PendingKind::kParse, {}, /*injected=*/true);
  pending.Push(PendingKind::kDescribeStatement, {}, /*injected=*/true);
  pending.Push(PendingKind::kSync, {}, /*injected=*/true);
  pending.Push(PendingKind::kQuery);
  EXPECT_FALSE(pending.DropUntilSync());
  EXPECT_TRUE(pending.front().injected);
}

TEST(PendingResponsesTest, AnErrorBeforeAnySyncWaitsForTheClientsSync) {
  PendingResponses pending;
  pending.Push(PendingKind::kParse, "", /*injected=*/true);
  pending.Push(PendingKind::kParse);
  EXPECT_TRUE(pending.DropUntilSync());
  EXPECT_TRUE(pending.empty());
}

}  // namespace
}  // namespace pgmask::proxy

namespace pgmask::proxy {
namespace {

std::vector<protocol::FieldDescription> Columns(uint32_t table_oid, int16_t format = 0) {
  return {{"", table_oid, 1, 23, 4, -1, format}, {"", table_oid, 2, 25, -1, -1, format}};
}

// The server side of a Bind of `portal` to `statement` and a Describe of it returning `fields`.
void BindAndDescribe(PendingResponses& p, const std::string& portal, const std::string& statement,
                     const std::vector<protocol::FieldDescription>& fields) {
  p.MarkBound(portal, statement, {});
  p.PortalBound(portal, statement, p.DefinitionOf(statement));
  p.RecordStatementColumns(portal, fields);
}

TEST(StatementColumnsTest, LaterPortalsOfADescribedStatementNeedNoDescribe) {
  PendingResponses p;
  p.StatementRedefined("s1");
  EXPECT_EQ(p.KnownColumns("p1"), nullptr);
  BindAndDescribe(p, "p1", "s1", Columns(1000));
  p.MarkBound("p2", "s1", {});
  ASSERT_NE(p.KnownColumns("p2"), nullptr);
  EXPECT_EQ(p.KnownColumns("p2")->at(0).table_oid, 1000u);
  p.MarkBound("p3", "other", {});
  EXPECT_EQ(p.KnownColumns("p3"), nullptr);
}

TEST(StatementColumnsTest, AParseCloseOrQueryForgetsTheColumns) {
  PendingResponses p;
  BindAndDescribe(p, "", "s1", Columns(1000));
  p.StatementRedefined("s1");  // Parse of a new s1
  p.MarkBound("p2", "s1", {});
  EXPECT_EQ(p.KnownColumns("p2"), nullptr);

  BindAndDescribe(p, "", "s1", Columns(1000));
  p.AllStatementsRedefined();  // a simple Query: DEALLOCATE s1; PREPARE s1 AS ...
  p.MarkBound("p2", "s1", {});
  EXPECT_EQ(p.KnownColumns("p2"), nullptr);
}

TEST(StatementColumnsTest, AnAnswerAboutTheOldDefinitionIsNotKept) {
  PendingResponses p;
  p.MarkBound("p1", "s1", {});
  p.PortalBound("p1", "s1", p.DefinitionOf("s1"));
  p.StatementRedefined("s1");  // the client sent Parse s1 before the Describe's answer came
  p.RecordStatementColumns("p1", Columns(1000));
  p.MarkBound("p2", "s1", {});
  EXPECT_EQ(p.KnownColumns("p2"), nullptr);
}

TEST(StatementColumnsTest, APortalWhoseBindFailedDescribesNothing) {
  PendingResponses p;
  BindAndDescribe(p, "p1", "s1", Columns(1000));
  p.PortalClosed("p1");
  p.RecordStatementColumns("p1", Columns(2000));  // no BindComplete since: not s1's columns
  p.MarkBound("p2", "s1", {});
  ASSERT_NE(p.KnownColumns("p2"), nullptr);
  EXPECT_EQ(p.KnownColumns("p2")->at(0).table_oid, 1000u);
}

TEST(StatementColumnsTest, TheBindsResultFormatsApply) {
  PendingResponses p;
  BindAndDescribe(p, "p1", "s1", Columns(1000, /*format=*/0));
  const uint8_t binary[] = {0, 1};
  p.MarkBound("p2", "s1", protocol::FormatCodes(binary, 1));
  ASSERT_NE(p.KnownColumns("p2"), nullptr);
  EXPECT_EQ(p.KnownColumns("p2")->at(0).format, 1);
  EXPECT_EQ(p.KnownColumns("p2")->at(1).format, 1);
  const uint8_t mixed[] = {0, 0, 0, 1};
  p.MarkBound("p3", "s1", protocol::FormatCodes(mixed, 2));
  EXPECT_EQ(p.KnownColumns("p3")->at(0).format, 0);
  EXPECT_EQ(p.KnownColumns("p3")->at(1).format, 1);
}

}  // namespace
}  // namespace pgmask::proxy
