#include "proxy/audit_file_sink.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "proxy/audit_sink.h"
#include "proxy/audit_verify.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

using testing::FaultyFileSystem;
using testing::ReadLines;
using testing::TempDir;
using testing::TestKey;
using testing::TestStatement;

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

std::vector<std::string> TrailFiles(const TempDir& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path)) {
    if (e.is_regular_file() && e.path().filename().string().starts_with("audit.jsonl")) {
      files.push_back(e.path().string());
    }
  }
  return files;
}

size_t CountType(const std::vector<std::string>& files, std::string_view type) {
  size_t n = 0;
  const std::string needle = absl::StrFormat("\"type\":\"%s\"", type);
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) n += line.find(needle) != std::string::npos;
  }
  return n;
}

std::string Describe(const AuditVerifyReport& r) {
  std::ostringstream out;
  PrintAuditVerifyReport(r, out);
  return out.str();
}

AuditFileSinkOptions Options(const std::string& path, AuditFileSystem* fs = nullptr) {
  AuditFileSinkOptions o;
  o.path = path;
  o.proxy = "replica-1";
  o.fs = fs;
  o.retry_interval = absl::Milliseconds(10);
  o.close_timeout = absl::Milliseconds(200);
  return o;
}

TEST(AuditFileSink, AppendIsOnDiskWhenItReturnsAndCloseSeals) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  auto sink = AuditFileSink::Open(Options(path), TestKey());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Append(TestStatement(1)).ok());
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"type\":\"start\",\"previous\":\"new\",\"discarded_bytes\":0"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"type\":\"statement\""), std::string::npos);
  EXPECT_EQ((*sink)->Health().written, 1u);
  EXPECT_EQ((*sink)->Health().queued, 0u);
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_TRUE((*sink)->Close().ok());  // idempotent
  lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("\"type\":\"seal\",\"reason\":\"shutdown\",\"file\":\"audit.jsonl\",\"first_seq\":1,\"last_seq\":2"),
            std::string::npos)
      << lines[2];
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(AuditFileSink, SubmitAnswersFromTheWriterThread) {
  TempDir dir;
  auto sink = AuditFileSink::Open(Options(dir.File("audit.jsonl")), TestKey());
  ASSERT_TRUE(sink.ok());
  absl::Notification done;
  absl::Status result = absl::UnknownError("not called");
  std::thread::id called_on;
  (*sink)->Submit(TestStatement(1), [&](absl::Status s) {
    result = s;
    called_on = std::this_thread::get_id();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_NE(called_on, std::this_thread::get_id());
  ASSERT_TRUE((*sink)->Close().ok());
  absl::Status after;
  (*sink)->Submit(TestStatement(2), [&](absl::Status s) { after = s; });
  EXPECT_TRUE(absl::IsFailedPrecondition(after)) << after;
}

TEST(AuditFileSink, ReopeningContinuesTheChain) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  for (int run = 0; run < 3; ++run) {
    auto sink = AuditFileSink::Open(Options(path), TestKey());
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Append(TestStatement(run)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_NE(lines[3].find("\"seq\":4,"), std::string::npos);
  EXPECT_NE(lines[3].find("\"previous\":\"sealed\""), std::string::npos);
  const AuditVerifyReport r = VerifyAuditTrail({path}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.notes.empty()) << Describe(r);
}

TEST(AuditFileSink, ReopeningAfterACrashCutsTheUnacknowledgedLineAndSaysSo) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  {
    auto sink = AuditFileSink::Open(Options(path), TestKey());
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Append(TestStatement(1)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  // As if the process died after a record and in the middle of the next write.
  std::vector<std::string> lines = ReadLines(path);
  lines.pop_back();
  testing::WriteLines(path, lines);
  { std::ofstream(path, std::ios::app | std::ios::binary) << "{\"seq\":3,\"id\":\"half"; }
  auto sink = AuditFileSink::Open(Options(path), TestKey());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Close().ok());
  lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[2].find("\"previous\":\"unsealed\",\"discarded_bytes\":19"), std::string::npos) << lines[2];
  const AuditVerifyReport r = VerifyAuditTrail({path}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.notes.size(), 1u) << Describe(r);  // the line cut off
  // A crash and a cut before a restart look the same: not shown complete until accepted.
  ASSERT_EQ(r.unsealed_reopens.size(), 1u);
  EXPECT_EQ(r.unsealed_reopens[0].seq, 3u);
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(AuditVerifyExitStatus(r), kAuditVerifyUnproven);
  EXPECT_TRUE(VerifyAuditTrail({path}, TestKey(), {.accepted_unsealed = {3}}).complete());
}

TEST(AuditFileSink, RefusesATrailWrittenWithAnotherKey) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  {
    auto sink = AuditFileSink::Open(Options(path), TestKey('a'));
    ASSERT_TRUE(sink.ok());
  }
  auto other = AuditFileSink::Open(Options(path), TestKey('b'));
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(other.status()));
  EXPECT_NE(std::string(other.status().message()).find("does not authenticate with this audit key"),
            std::string::npos)
      << other.status();
}

TEST(AuditFileSink, OpenFailsWhenTheDirectoryDoesNotExist) {
  auto sink = AuditFileSink::Open(Options("/nonexistent-pgmask-dir/audit.jsonl"), TestKey());
  ASSERT_FALSE(sink.ok());
  EXPECT_TRUE(absl::IsNotFound(sink.status())) << sink.status();
}

TEST(AuditFileSink, RotatesBySizeAndKeepsTheChain) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  AuditFileSinkOptions o = Options(path);
  o.rotate_bytes = 4000;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE((*sink)->Append(TestStatement(i)).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  const std::vector<std::string> files = TrailFiles(dir);
  ASSERT_GE(files.size(), 5u);
  for (size_t n = 1; n < files.size(); ++n) {
    const std::string rotated = AuditFileSink::RotatedPath(path, n);
    ASSERT_TRUE(std::filesystem::exists(rotated)) << rotated;
    EXPECT_LT(std::filesystem::file_size(rotated), 4000u + 2000u);
  }
  EXPECT_EQ(CountType(files, "statement"), 40u);
  EXPECT_EQ(CountType(files, "seal"), files.size());
  EXPECT_EQ(CountType(files, "file_start"), files.size() - 1);
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);

  // A new run continues after the newest file and numbers rotations after the existing ones.
  auto again = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*again)->Append(TestStatement(i)).ok());
  ASSERT_TRUE((*again)->Close().ok());
  const std::vector<std::string> more = TrailFiles(dir);
  EXPECT_GT(more.size(), files.size());
  const AuditVerifyReport r2 = VerifyAuditTrail(more, TestKey());
  EXPECT_TRUE(r2.ok()) << Describe(r2);
}

TEST(AuditFileSink, TheShutdownSealIsTheLastLineEvenWhenItFillsTheFile) {
  // How many bytes the start and three records take, measured on a trail that never rotates.
  TempDir measured;
  uint64_t before_seal = 0;
  {
    auto sink = AuditFileSink::Open(Options(measured.File("audit.jsonl")), TestKey());
    ASSERT_TRUE(sink.ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*sink)->Append(TestStatement(i)).ok());
    before_seal = std::filesystem::file_size(measured.File("audit.jsonl"));
    ASSERT_TRUE((*sink)->Close().ok());
  }
  // One byte more: the seal, not a record, takes the file past rotate_bytes.
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  AuditFileSinkOptions o = Options(path);
  o.rotate_bytes = before_seal + 1;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*sink)->Append(TestStatement(i)).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  const std::vector<std::string> files = TrailFiles(dir);
  EXPECT_EQ(files, std::vector<std::string>{path});
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("\"reason\":\"shutdown\""), std::string::npos) << lines.back();
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
}

TEST(AuditFileSink, ConcurrentAppendsShareFsyncs) {
  TempDir dir;
  FaultyFileSystem fs;
  fs.fsync_delay_us = 2000;
  auto sink = AuditFileSink::Open(Options(dir.File("audit.jsonl"), &fs), TestKey());
  ASSERT_TRUE(sink.ok());
  const int before = fs.fsyncs;
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) ok += (*sink)->Append(TestStatement(t * 100 + i)).ok();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, kThreads * kEach);
  EXPECT_LT(fs.fsyncs - before, kThreads * kEach / 2);
  ASSERT_TRUE((*sink)->Close().ok());
  const AuditVerifyReport r = VerifyAuditTrail({dir.File("audit.jsonl")}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(CountType({dir.File("audit.jsonl")}, "statement"), static_cast<size_t>(kThreads * kEach));
}

struct FailureCase {
  std::string name;
  std::function<void(FaultyFileSystem&, bool)> fail;  // (fs, on)
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class FailureTest : public ::testing::TestWithParam<FailureCase> {};

// The sink reports the failure, fails fast while degraded, and once the disk works again writes
// every record it took, in order, exactly once, between an audit_degraded and an audit_resumed event.
TEST_P(FailureTest, IsReportedAndRecoveredFromWithoutLoss) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  FaultyFileSystem fs;
  std::atomic<int> degraded_calls{0};
  std::atomic<int> resumed_calls{0};
  std::atomic<uint64_t> written{0};
  AuditFileSinkOptions o = Options(path, &fs);
  o.listener.degraded = [&](const absl::Status&) { ++degraded_calls; };
  o.listener.resumed = [&] { ++resumed_calls; };
  o.listener.written = [&](uint64_t n) { written += n; };
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Append(TestStatement(0)).ok());

  GetParam().fail(fs, true);
  const absl::Status failed = (*sink)->Append(TestStatement(1));
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE((*sink)->Health().degraded);
  EXPECT_FALSE((*sink)->Health().last_error.ok());
  EXPECT_EQ(degraded_calls, 1);
  for (int i = 2; i < 5; ++i) {
    const absl::Time start = absl::Now();
    EXPECT_TRUE(absl::IsUnavailable((*sink)->Append(TestStatement(i))));
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // fails fast, does not wait for a retry
  }
  EXPECT_EQ((*sink)->Health().queued, 4u);

  GetParam().fail(fs, false);
  ASSERT_TRUE(WaitFor([&] { return !(*sink)->Health().degraded; }));
  EXPECT_EQ(resumed_calls, 1);
  ASSERT_TRUE((*sink)->Append(TestStatement(5)).ok());
  EXPECT_EQ((*sink)->Health().queued, 0u);
  EXPECT_EQ(written, 6u);
  ASSERT_TRUE((*sink)->Close().ok());

  const std::vector<std::string> files = TrailFiles(dir);
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(CountType(files, "statement"), 6u);
  EXPECT_EQ(CountType(files, "audit_degraded"), 1u);
  EXPECT_EQ(CountType(files, "audit_resumed"), 1u);
  // In submission order: rows 0..5.
  std::vector<std::string> rows;
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) {
      const size_t at = line.find("\"rows\":");
      if (line.find("\"type\":\"statement\"") != std::string::npos) rows.push_back(line.substr(at + 7, 1));
    }
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
  bool resumed_counts = false;
  for (const std::string& line : ReadLines(path)) {
    resumed_counts |= line.find("\"type\":\"audit_resumed\",\"queued\":4,\"dropped\":0") != std::string::npos;
  }
  EXPECT_TRUE(resumed_counts);
}

// Statements refused because their records could not be made durable are in the trail as those
// refusals once the disk works again, though rotations fell among them while the disk failed:
// one chain, rotated files numbered without a gap, every statement once and in order.
TEST_P(FailureTest, RecordsOfRefusedStatementsAreWrittenAsRefusalsAcrossRotations) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  FaultyFileSystem fs;
  AuditFileSinkOptions o = Options(path, &fs);
  o.rotate_bytes = 2500;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  const auto refusable = [](int n) {
    AuditStatement st = TestStatement(n);
    st.refused_unless_durable = true;
    return st;
  };
  ASSERT_TRUE((*sink)->Append(refusable(0)).ok());
  GetParam().fail(fs, true);
  for (int i = 1; i < 9; ++i) EXPECT_TRUE(absl::IsUnavailable((*sink)->Append(refusable(i))));
  GetParam().fail(fs, false);
  ASSERT_TRUE(WaitFor([&] { return !(*sink)->Health().degraded; }));
  ASSERT_TRUE((*sink)->Append(refusable(9)).ok());
  ASSERT_TRUE((*sink)->Close().ok());

  const std::vector<std::string> files = TrailFiles(dir);
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  ASSERT_GE(files.size(), 3u);
  for (size_t n = 1; n < files.size(); ++n) {
    EXPECT_TRUE(std::filesystem::exists(AuditFileSink::RotatedPath(path, n))) << n;
  }
  std::map<uint64_t, std::string> outcomes;  // by seq
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) {
      absl::StatusOr<AuditLine> parsed = ParseAuditLine(line);
      ASSERT_TRUE(parsed.ok()) << line;
      if (parsed->type != "statement") continue;
      const std::string outcome(parsed->fields.at("outcome").as_string());
      const boost::json::value& sqlstate = parsed->fields.at("sqlstate");
      const boost::json::value& rows = parsed->fields.at("rows");
      outcomes[parsed->seq] = outcome + " " + (sqlstate.is_string() ? std::string(sqlstate.as_string()) : "-") + " " +
                              (rows.is_null() ? "-" : boost::json::serialize(rows));
    }
  }
  std::vector<std::string> in_order;
  for (const auto& [seq, outcome] : outcomes) in_order.push_back(outcome);
  std::vector<std::string> expected = {"masked - 0"};
  for (int i = 1; i < 9; ++i) expected.push_back("refused 58030 -");
  expected.push_back("masked - 9");
  EXPECT_EQ(in_order, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, FailureTest,
    ::testing::Values(
        FailureCase{"DiskFull", [](FaultyFileSystem& fs, bool on) { fs.fail_write = on; }},
        FailureCase{"PartialWrite", [](FaultyFileSystem& fs, bool on) { fs.partial_write = on; }},
        FailureCase{"FsyncError", [](FaultyFileSystem& fs, bool on) { fs.fail_fsync = on; }},
        FailureCase{"ReopenDenied",
                    [](FaultyFileSystem& fs, bool on) {
                      fs.fail_fsync = on;
                      fs.fail_open = on;
                    }}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.name; });

// A real directory that goes away (an unmounted volume, a removed directory) while pgmask rotates.
TEST(AuditFileSink, AMissingDirectoryAtRotationIsRecoveredFrom) {
  TempDir dir;
  const std::string sub = dir.File("trail");
  std::filesystem::create_directory(sub);
  const std::string path = sub + "/audit.jsonl";
  AuditFileSinkOptions o = Options(path);
  o.rotate_bytes = 3000;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  std::filesystem::rename(sub, dir.File("moved"));
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 20 && refused == 0; ++i) {
    const absl::Status s = (*sink)->Append(TestStatement(i));
    (s.ok() ? accepted : refused)++;
  }
  ASSERT_EQ(refused, 1);
  EXPECT_TRUE((*sink)->Health().degraded);
  EXPECT_TRUE(absl::IsNotFound((*sink)->Health().last_error)) << (*sink)->Health().last_error;
  std::filesystem::rename(dir.File("moved"), sub);
  ASSERT_TRUE(WaitFor([&] { return !(*sink)->Health().degraded; }));
  ASSERT_TRUE((*sink)->Close().ok());
  const std::vector<std::string> files = TrailFiles(dir);
  EXPECT_EQ(CountType(files, "statement"), static_cast<size_t>(accepted + refused));
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
}

TEST(AuditFileSink, AFullQueueDropsRecordsAndTheTrailCountsThem) {
  TempDir dir;
  FaultyFileSystem fs;
  AuditFileSinkOptions o = Options(dir.File("audit.jsonl"), &fs);
  o.max_queued = 3;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  fs.fail_write = true;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(absl::IsUnavailable((*sink)->Append(TestStatement(i))));
  EXPECT_TRUE(absl::IsResourceExhausted((*sink)->Append(TestStatement(3))));
  EXPECT_TRUE(absl::IsResourceExhausted((*sink)->Append(TestStatement(4))));
  EXPECT_EQ((*sink)->Health().dropped, 2u);
  fs.fail_write = false;
  ASSERT_TRUE(WaitFor([&] { return !(*sink)->Health().degraded; }));
  ASSERT_TRUE((*sink)->Close().ok());
  bool counted = false;
  for (const std::string& line : ReadLines(dir.File("audit.jsonl"))) {
    counted |= line.find("\"type\":\"audit_resumed\",\"queued\":3,\"dropped\":2") != std::string::npos;
  }
  EXPECT_TRUE(counted);
  EXPECT_TRUE(VerifyAuditTrail({dir.File("audit.jsonl")}, TestKey()).ok());
}

TEST(AuditFileSink, CloseReportsRecordsItCouldNotWrite) {
  TempDir dir;
  FaultyFileSystem fs;
  auto sink = AuditFileSink::Open(Options(dir.File("audit.jsonl"), &fs), TestKey());
  ASSERT_TRUE(sink.ok());
  fs.fail_write = true;
  EXPECT_FALSE((*sink)->Append(TestStatement(1)).ok());
  const absl::Status closed = (*sink)->Close();
  EXPECT_TRUE(absl::IsDataLoss(closed)) << closed;
  EXPECT_NE(std::string(closed.message()).find("1 audit records and the closing seal"), std::string::npos)
      << closed;
}

TEST(AuditFileSink, ARenameFailureDuringRotationIsRetried) {
  TempDir dir;
  FaultyFileSystem fs;
  AuditFileSinkOptions o = Options(dir.File("audit.jsonl"), &fs);
  o.rotate_bytes = 2000;
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  fs.fail_rename = true;
  int refused = 0;
  for (int i = 0; i < 10; ++i) refused += !(*sink)->Append(TestStatement(i)).ok();
  EXPECT_GT(refused, 0);
  fs.fail_rename = false;
  ASSERT_TRUE(WaitFor([&] { return !(*sink)->Health().degraded; }));
  ASSERT_TRUE((*sink)->Close().ok());
  const std::vector<std::string> files = TrailFiles(dir);
  EXPECT_EQ(CountType(files, "statement"), 10u);
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// The records' `rows` (0..9 in the test statements), in trail order.
std::vector<std::string> StatementRows(const std::vector<std::string>& files) {
  std::vector<std::string> rows;
  for (const std::string& f : files) {
    for (const std::string& line : ReadLines(f)) {
      const size_t at = line.find("\"rows\":");
      if (line.find("\"type\":\"statement\"") != std::string::npos) rows.push_back(line.substr(at + 7, 1));
    }
  }
  return rows;
}

struct Answer {
  absl::Notification done;
  absl::Status status = absl::UnknownError("not answered");
  AuditSink::Done Callback() {
    return [this](absl::Status s) {
      status = std::move(s);
      done.Notify();
    };
  }
};

TEST(AuditFileSink, NoRecordIsAnsweredBeforeASyncThatStartedAfterItsWriteReturns) {
  TempDir dir;
  FaultyFileSystem fs;
  auto sink = AuditFileSink::Open(Options(dir.File("audit.jsonl"), &fs), TestKey());
  ASSERT_TRUE(sink.ok());
  absl::Cleanup release = [&] { fs.release_syncs = true; };  // also when an assertion returns
  fs.hold_syncs = 1000;
  Answer a;
  (*sink)->Submit(TestStatement(1), a.Callback());
  ASSERT_TRUE(WaitFor([&] { return fs.held_syncs >= 1; }));
  EXPECT_FALSE(a.done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  fs.release_syncs = true;
  ASSERT_TRUE(a.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(a.status.ok()) << a.status;
  ASSERT_TRUE((*sink)->Close().ok());
}

// Two sync threads, and record 1 submitted with its sync hanging (held until the test releases
// it, or ends).
class HungSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AuditFileSinkOptions o = Options(path_, &fs_);
    o.syncs_in_flight = 2;
    o.overlap_syncs_after = absl::Milliseconds(1);
    absl::StatusOr<std::unique_ptr<AuditFileSink>> sink = AuditFileSink::Open(o, TestKey());
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    fs_.hold_syncs = 1;
    sink_->Submit(TestStatement(1), first_.Callback());
    ASSERT_TRUE(WaitFor([&] { return fs_.held_syncs == 1; }));
  }
  void TearDown() override {
    fs_.release_syncs = true;  // also when an assertion returned early
    sink_.reset();
  }

  TempDir dir_;
  const std::string path_ = dir_.File("audit.jsonl");
  FaultyFileSystem fs_;
  std::unique_ptr<AuditFileSink> sink_;
  Answer first_;
};

// A sync that hangs (on the bench's disk a lone fdatasync waits for a 4 ms timer) gets company:
// the next one starts beside it and makes durable everything written before it, the hung
// sync's record included.
TEST_F(HungSyncTest, ARecordWrittenMeanwhileDoesNotWaitForIt) {
  Answer second;
  sink_->Submit(TestStatement(2), second.Callback());
  EXPECT_TRUE(second.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(first_.done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(fs_.held_syncs, 1);  // still hanging
  EXPECT_EQ(fs_.most_syncs_running, 2);
  fs_.release_syncs = true;
  ASSERT_TRUE(second.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(first_.status.ok()) << first_.status;
  EXPECT_TRUE(second.status.ok()) << second.status;
  ASSERT_TRUE(sink_->Close().ok());
  const AuditVerifyReport r = VerifyAuditTrail({path_}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(StatementRows({path_}), (std::vector<std::string>{"1", "2"}));
}

// One sync fails while another runs: neither's records are trusted (the failed writeback may
// concern either), both are answered Unavailable, and after the retry each is in the trail once.
TEST_F(HungSyncTest, ASyncFailingBesideItLosesNothingAndWritesNothingTwice) {
  fs_.fail_fsync = true;
  Answer second;
  sink_->Submit(TestStatement(2), second.Callback());
  ASSERT_TRUE(WaitFor([&] { return fs_.failed_syncs >= 1; }));
  EXPECT_FALSE(first_.done.HasBeenNotified());
  fs_.release_syncs = true;  // the sink cuts the file back only once no sync runs
  ASSERT_TRUE(first_.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(second.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(absl::IsUnavailable(first_.status)) << first_.status;
  EXPECT_TRUE(absl::IsUnavailable(second.status)) << second.status;
  EXPECT_TRUE(sink_->Health().degraded);
  fs_.fail_fsync = false;
  ASSERT_TRUE(WaitFor([&] { return !sink_->Health().degraded; }));
  ASSERT_TRUE(sink_->Append(TestStatement(3)).ok());
  ASSERT_TRUE(sink_->Close().ok());
  const AuditVerifyReport r = VerifyAuditTrail({path_}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(StatementRows({path_}), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(CountType({path_}, "audit_degraded"), 1u);
  EXPECT_EQ(CountType({path_}, "audit_resumed"), 1u);
}

TEST(AuditFileSink, OverlappingSyncsAcrossRotationsKeepTheChain) {
  TempDir dir;
  FaultyFileSystem fs;
  fs.fsync_delay_us = 3000;
  fs.sync_waits_for_company_us = 50000;
  AuditFileSinkOptions o = Options(dir.File("audit.jsonl"), &fs);
  o.rotate_bytes = 12000;
  std::atomic<int> ok{0};  // before the sink: its callbacks may run until it is gone
  std::atomic<int> answered{0};
  auto sink = AuditFileSink::Open(o, TestKey());
  ASSERT_TRUE(sink.ok());
  // Records keep arriving, eight at a time, while syncs of 3 ms run: at least 160 of them (five
  // files' worth), and on until two syncs have run at once. Each batch waits for the writer to
  // have written since the last: on a loaded machine it would otherwise fall behind, every write
  // would end in a rotation seal it must wait for, and no two syncs would ever overlap. A sync
  // waits a while for company, so overlap does not hang on the writer getting the CPU in time.
  constexpr int kAtLeast = 160;
  constexpr int kAtMost = 4000;
  int submitted = 0;
  while (submitted < kAtMost && (submitted < kAtLeast || fs.most_syncs_running < 2)) {
    const int writes_before = fs.writes;
    for (int k = 0; k < 8; ++k, ++submitted) {
      (*sink)->Submit(TestStatement(submitted), [&](absl::Status s) {
        ok += s.ok();
        ++answered;
      });
    }
    ASSERT_TRUE(WaitFor([&] { return fs.writes > writes_before; }));
  }
  ASSERT_TRUE(WaitFor([&] { return answered == submitted; }));
  EXPECT_EQ(ok, submitted);
  EXPECT_GE(fs.most_syncs_running, 2);
  ASSERT_TRUE((*sink)->Close().ok());
  const std::vector<std::string> files = TrailFiles(dir);
  EXPECT_GE(files.size(), 5u);
  EXPECT_EQ(CountType(files, "statement"), static_cast<size_t>(submitted));
  EXPECT_EQ(CountType(files, "seal"), files.size());
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// A crash leaves any prefix of what was written; cut the trail at points through its last lines:
// verify names each cut, and a restart continues the chain after the last complete record.
TEST(AuditFileSink, EveryCrashPointIsDetectedAndContinuedFrom) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  {
    auto sink = AuditFileSink::Open(Options(path), TestKey());
    ASSERT_TRUE(sink.ok());
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*sink)->Append(TestStatement(i)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  const std::string whole = testing::ReadAll(path);
  const std::vector<std::string> lines = ReadLines(path);  // start, 3 statements, seal
  ASSERT_EQ(lines.size(), 5u);
  const size_t from = whole.size() - lines[4].size() - 1 - lines[3].size() - 1;
  for (size_t cut = from; cut < whole.size(); cut += 37) {
    SCOPED_TRACE(absl::StrFormat("cut at byte %d of %d", cut, whole.size()));
    const std::string crashed = dir.File(absl::StrFormat("crash-%d", cut));
    std::filesystem::create_directory(crashed);
    const std::string trail = crashed + "/audit.jsonl";
    { std::ofstream(trail, std::ios::binary) << whole.substr(0, cut); }
    const AuditVerifyReport before = VerifyAuditTrail({trail}, TestKey());
    EXPECT_FALSE(before.ok());
    bool truncated = false;
    for (const AuditFault& f : before.faults) truncated |= f.kind == AuditFaultKind::kTruncated;
    EXPECT_TRUE(truncated) << Describe(before);

    auto sink = AuditFileSink::Open(Options(trail), TestKey());
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Append(TestStatement(9)).ok());
    ASSERT_TRUE((*sink)->Close().ok());
    const AuditVerifyReport after = VerifyAuditTrail({trail}, TestKey());
    EXPECT_TRUE(after.ok()) << Describe(after);
    EXPECT_FALSE(after.complete()) << Describe(after);
    const std::vector<std::string> rows = StatementRows({trail});
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows.back(), "9");
    EXPECT_EQ(rows.size(), cut >= from + lines[3].size() + 1 ? 4u : 3u);
  }
}

}  // namespace
}  // namespace pgmask::proxy
