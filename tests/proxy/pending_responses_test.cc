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

TEST(PendingResponsesTest, AQueryTheServerSkipsAfterAnErrorOwesNoReadyForQuery) {
  PendingResponses pending;
  pending.Push(PendingKind::kExecute, "nosuch");
  pending.Push(PendingKind::kQuery);
  pending.Push(PendingKind::kSync);
  EXPECT_TRUE(pending.DropUntilSync());
  pending.Pop();  // the Sync's ReadyForQuery
  EXPECT_FALSE(pending.owes_ready());
}

// libpq's COPY FROM STDIN in the extended protocol: Execute, Sync, then the data, CopyDone, Sync.
void StartLibpqCopy(PendingResponses& pending) {
  pending.Push(PendingKind::kExecute, "");
  pending.Push(PendingKind::kSync);
  pending.CopyInStarted();
}

TEST(CopyInTest, SyncsSentDuringACopyThatSucceedsAreIgnored) {
  PendingResponses pending;
  StartLibpqCopy(pending);
  pending.Push(PendingKind::kSync);  // during copy-in
  pending.CopyEndSent();
  pending.Push(PendingKind::kSync);
  EXPECT_TRUE(pending.CopyEnded(/*failed=*/false));
  pending.Pop();  // CommandComplete ends the Execute
  ASSERT_FALSE(pending.empty());
  EXPECT_FALSE(pending.front().maybe_ignored);
  pending.Pop();
  EXPECT_TRUE(pending.empty());
}

TEST(CopyInTest, AReadyForQueryAfterAFailedCopyAnswersTheCertainSyncFirst) {
  PendingResponses pending;
  StartLibpqCopy(pending);
  pending.CopyEndSent();
  pending.Push(PendingKind::kSync);
  EXPECT_TRUE(pending.CopyEnded(/*failed=*/true));
  EXPECT_TRUE(pending.DropUntilSync());
  pending.SettleSyncs(/*ready_for_query=*/true);
  EXPECT_FALSE(pending.front().maybe_ignored);
  pending.Pop();
  // The Sync read during the COPY: the next answer says whether it was ignored.
  ASSERT_FALSE(pending.empty());
  EXPECT_TRUE(pending.owes_ready());
  pending.Push(PendingKind::kQuery);
  pending.SettleSyncs(/*ready_for_query=*/false);
  EXPECT_EQ(pending.front().kind, PendingKind::kQuery);
}

TEST(CopyInTest, ASyncSentOnceTheCopyFailedIsAnswered) {
  PendingResponses pending;
  pending.Push(PendingKind::kQuery);
  pending.CopyInStarted();
  EXPECT_TRUE(pending.CopyEnded(/*failed=*/true));
  pending.Pop();  // the Query's ReadyForQuery
  pending.Push(PendingKind::kSync);
  EXPECT_FALSE(pending.front().maybe_ignored);
}

TEST(CopyInTest, ARequestSentDuringACopyThatFailsCannotBeFollowed) {
  PendingResponses pending;
  pending.Push(PendingKind::kQuery);
  pending.Push(PendingKind::kSync);
  pending.CopyEndSent();
  pending.Push(PendingKind::kQuery);
  pending.CopyInStarted();
  EXPECT_FALSE(pending.CopyEnded(/*failed=*/true));

  PendingResponses during;
  during.Push(PendingKind::kQuery);
  during.CopyInStarted();
  during.Push(PendingKind::kQuery);  // read by the COPY, or after its failure
  EXPECT_FALSE(during.CopyEnded(/*failed=*/true));
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

TEST(StatementColumnsTest, SqlThatRedefinesAPortalForgetsItsDescription) {
  PendingResponses p;
  BindAndDescribe(p, "c", "s1", Columns(1000));
  p.MarkDescribed("c");
  p.SetPortalFields("c", Columns(1000));
  p.PortalRedefined("c");  // CLOSE c; DECLARE c CURSOR FOR ...
  EXPECT_FALSE(p.described("c"));
  EXPECT_EQ(p.PortalFields("c"), nullptr);
  p.RecordStatementColumns("c", Columns(2000));  // the cursor's columns are not s1's
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
