#include "proxy/audit_queued_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "proxy/audit_verify.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

// The shared queue on the smallest sink: lines go to a string. `fail` makes every write fail;
// `lose_answer` makes the next write keep its lines but report a failure (a commit whose answer
// was lost with the connection); with `defer`, a write that need not wait leaves its lines
// unacknowledged until Ready().
class MemorySink final : public AuditQueuedWriter {
 public:
  static std::unique_ptr<MemorySink> Open(const AuditQueueOptions& options) {
    absl::StatusOr<AuditChain> chain = AuditChain::Create(testing::TestKey(), "replica-1");
    std::unique_ptr<MemorySink> sink(new MemorySink(options, *std::move(chain)));
    sink->StartWriter();
    return sink;
  }
  ~MemorySink() override { Close().IgnoreError(); }

  std::atomic<bool> fail{false};
  std::atomic<bool> lose_answer{false};
  std::atomic<bool> defer{false};
  std::atomic<int> writes{0};

  void Ready() {
    ready_ = true;
    Wake();
  }
  std::string Text() const {
    absl::MutexLock lock(&text_mu_);
    return text_;
  }

 private:
  MemorySink(const AuditQueueOptions& options, AuditChain chain)
      : AuditQueuedWriter(options, "memory trail", "memory", std::move(chain)) {}

  absl::Status WritePending(bool wait) override {
    ++writes;
    if (fail) return absl::UnavailableError("memory: injected failure");
    if (defer && !wait && !ready_) return absl::OkStatus();
    std::string lines;
    for (const Pending& p : pending_) lines += p.line;
    {
      absl::MutexLock lock(&text_mu_);
      text_ += lines;
    }
    if (!pending_.empty()) kept_seq_ = pending_.back().seq;
    if (lose_answer.exchange(false)) return absl::UnavailableError("memory: answer lost");
    Acknowledge(pending_.size());
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> DurableFront() override {
    size_t count = 0;
    while (count < pending_.size() && pending_[count].seq <= kept_seq_) ++count;
    return count;
  }
  std::string SealBody(absl::Time now) override {
    return AuditSealBody(now, AuditSealReason::kShutdown, "memory", 1, chain_.head());
  }

  std::atomic<bool> ready_{false};
  uint64_t kept_seq_ = 0;  // the writer thread's
  mutable absl::Mutex text_mu_;
  std::string text_;
};

AuditQueueOptions Options() {
  AuditQueueOptions o;
  o.retry_interval = absl::Milliseconds(10);
  o.close_timeout = absl::Milliseconds(100);
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::vector<std::string> Types(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    const size_t at = line.find("\"type\":\"");
    out.push_back(line.substr(at + 8, line.find('"', at + 8) - at - 8));
  }
  return out;
}

// The value of top-level member `name` of each line of `type`, as written.
std::vector<std::string> StatementMember(const std::string& text, std::string_view name,
                                         std::string_view type = "statement") {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    if (line.find(absl::StrFormat("\"type\":\"%s\"", type)) == std::string::npos) continue;
    const std::string key = absl::StrFormat(",\"%s\":", name);
    const size_t at = line.find(key) + key.size();
    out.push_back(line.substr(at, line.find_first_of(",}", at) - at));
  }
  return out;
}

AuditStatement Refusable(int n) {
  AuditStatement st = testing::TestStatement(n);
  st.refused_unless_durable = true;
  return st;
}

AuditVerifyReport Verify(const std::string& text) {
  testing::TempDir dir;
  testing::WriteLines(dir.File("trail.jsonl"), Lines(text));
  return VerifyAuditTrail({dir.File("trail.jsonl")}, testing::TestKey());
}

TEST(AuditQueuedWriter, AnswersOnceWrittenAndClosesWithASeal) {
  auto sink = MemorySink::Open(Options());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sink->Append(testing::TestStatement(i)).ok());
  EXPECT_EQ(sink->Health().written, 3u);
  EXPECT_EQ(sink->Health().queued, 0u);
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_TRUE(sink->Close().ok());
  EXPECT_EQ(Types(sink->Text()), (std::vector<std::string>{"statement", "statement", "statement", "seal"}));
  EXPECT_TRUE(Verify(sink->Text()).ok());
  absl::Status after;
  sink->Submit(testing::TestStatement(9), [&](absl::Status s) { after = s; });
  EXPECT_TRUE(absl::IsFailedPrecondition(after)) << after;
}

TEST(AuditQueuedWriter, ADegradedSinkAnswersAtOnceAndResumesInOrderWithNothingLost) {
  std::atomic<int> degraded{0};
  std::atomic<int> resumed{0};
  absl::Notification resumed_once;
  std::atomic<int> failed{0};
  AuditQueueOptions o = Options();
  o.listener.degraded = [&](const absl::Status&) { ++degraded; };
  o.listener.resumed = [&] {
    ++resumed;
    resumed_once.Notify();
  };
  o.listener.failed = [&](uint64_t n) { failed += static_cast<int>(n); };
  auto sink = MemorySink::Open(o);
  sink->fail = true;
  const absl::Status first = sink->Append(testing::TestStatement(1));
  EXPECT_TRUE(absl::IsUnavailable(first)) << first;
  EXPECT_NE(std::string(first.message()).find("memory: injected failure"), std::string::npos) << first;
  const absl::Status second = sink->Append(testing::TestStatement(2));
  EXPECT_TRUE(absl::IsUnavailable(second));
  EXPECT_NE(std::string(second.message()).find("memory trail unavailable"), std::string::npos) << second;
  EXPECT_TRUE(sink->Health().degraded);
  EXPECT_EQ(sink->Health().queued, 2u);
  EXPECT_EQ(failed, 2);
  sink->fail = false;
  ASSERT_TRUE(resumed_once.WaitForNotificationWithTimeout(absl::Seconds(10)));
  while (sink->Health().degraded) absl::SleepFor(absl::Milliseconds(1));  // set just after the listener
  EXPECT_TRUE(sink->Append(testing::TestStatement(3)).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(degraded, 1);
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(Types(sink->Text()), (std::vector<std::string>{"statement", "audit_degraded", "statement",
                                                           "audit_resumed", "statement", "seal"}));
  EXPECT_NE(sink->Text().find("\"type\":\"audit_resumed\",\"queued\":2,\"dropped\":0"), std::string::npos)
      << sink->Text();
  EXPECT_TRUE(Verify(sink->Text()).ok());
}

TEST(AuditQueuedWriter, AFullQueueDropsAndTheResumeCountsThem) {
  AuditQueueOptions o = Options();
  o.max_queued = 2;
  absl::Notification resumed;
  o.listener.resumed = [&] { resumed.Notify(); };
  auto sink = MemorySink::Open(o);
  sink->fail = true;
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(testing::TestStatement(1))));
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(testing::TestStatement(2))));
  EXPECT_TRUE(absl::IsResourceExhausted(sink->Append(testing::TestStatement(3))));
  EXPECT_EQ(sink->Health().dropped, 1u);
  sink->fail = false;
  ASSERT_TRUE(resumed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_NE(sink->Text().find("\"type\":\"audit_resumed\",\"queued\":2,\"dropped\":1"), std::string::npos)
      << sink->Text();
}

TEST(AuditQueuedWriter, CloseRetriesForCloseTimeoutThenReportsWhatWasLost) {
  auto sink = MemorySink::Open(Options());
  sink->fail = true;
  EXPECT_FALSE(sink->Append(testing::TestStatement(1)).ok());
  const int before = sink->writes;
  const absl::Status closed = sink->Close();
  EXPECT_TRUE(absl::IsDataLoss(closed)) << closed;
  EXPECT_NE(std::string(closed.message())
                .find("1 audit records and the closing seal could not be written to memory"),
            std::string::npos)
      << closed;
  EXPECT_GT(sink->writes - before, 2);  // retried every retry_interval until close_timeout
}

// A sink may leave writes in flight: their records are answered when it acknowledges them after
// Wake(), and a write that must wait (Close) waits.
TEST(AuditQueuedWriter, RecordsInFlightAreAnsweredAfterWake) {
  auto sink = MemorySink::Open(Options());
  sink->defer = true;
  absl::Notification done;
  absl::Status result = absl::UnknownError("not answered");
  sink->Submit(testing::TestStatement(1), [&](absl::Status s) {
    result = s;
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  sink->Ready();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(result.ok()) << result;

  auto other = MemorySink::Open(Options());
  other->defer = true;
  absl::Status pending = absl::UnknownError("not answered");
  other->Submit(testing::TestStatement(2), [&](absl::Status s) { pending = s; });
  ASSERT_TRUE(other->Close().ok());
  EXPECT_TRUE(pending.ok()) << pending;
  EXPECT_EQ(Types(other->Text()), (std::vector<std::string>{"statement", "seal"}));
}

// A statement refused because its record could not be made durable is in the trail as that
// refusal once the sink is back; a record nobody was refused for stays as it was submitted.
TEST(AuditQueuedWriter, ARecordAnsweredUnavailableIsWrittenAsTheRefusalItCaused) {
  absl::Notification resumed_once;
  AuditQueueOptions o = Options();
  o.listener.resumed = [&] { resumed_once.Notify(); };
  auto sink = MemorySink::Open(o);
  EXPECT_TRUE(sink->Append(Refusable(0)).ok());
  sink->fail = true;
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(Refusable(1))));  // chained, then the write fails
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(Refusable(2))));  // submitted while degraded
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(testing::TestStatement(3))));
  sink->fail = false;
  ASSERT_TRUE(resumed_once.WaitForNotificationWithTimeout(absl::Seconds(10)));
  while (sink->Health().degraded) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(sink->Append(Refusable(4)).ok());
  ASSERT_TRUE(sink->Close().ok());
  const std::string text = sink->Text();
  EXPECT_EQ(Types(text), (std::vector<std::string>{"statement", "statement", "audit_degraded", "statement",
                                                   "statement", "audit_resumed", "statement", "seal"}));
  EXPECT_EQ(StatementMember(text, "outcome"),
            (std::vector<std::string>{"\"masked\"", "\"refused\"", "\"refused\"", "\"masked\"", "\"masked\""}));
  EXPECT_EQ(StatementMember(text, "sqlstate"), (std::vector<std::string>{"null", "\"58030\"", "\"58030\"", "null", "null"}));
  EXPECT_EQ(StatementMember(text, "rows"), (std::vector<std::string>{"0", "null", "null", "3", "4"}));
  EXPECT_NE(text.find("\"type\":\"audit_resumed\",\"queued\":3,\"dropped\":0"), std::string::npos) << text;
  const AuditVerifyReport r = Verify(text);
  EXPECT_TRUE(r.ok()) << text;
}

// A write that went through though it reported a failure (the PostgreSQL sink's commit whose
// answer was lost): its lines stay as they were written, exactly once, and the chain goes on
// from them.
TEST(AuditQueuedWriter, LinesThatWereWrittenDespiteTheFailureAreNotChainedAgain) {
  absl::Notification resumed_once;
  AuditQueueOptions o = Options();
  o.listener.resumed = [&] { resumed_once.Notify(); };
  auto sink = MemorySink::Open(o);
  sink->lose_answer = true;
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(Refusable(1))));
  sink->fail = true;
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(Refusable(2))));
  sink->fail = false;
  ASSERT_TRUE(resumed_once.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(sink->Close().ok());
  const std::string text = sink->Text();
  // The first line is durable, so it stays; its statement was refused all the same, which a
  // correction naming it says.
  EXPECT_EQ(Types(text), (std::vector<std::string>{"statement", "record_corrected", "audit_degraded", "statement",
                                                   "audit_resumed", "seal"}))
      << text;
  EXPECT_EQ(StatementMember(text, "outcome"), (std::vector<std::string>{"\"masked\"", "\"refused\""}));
  EXPECT_EQ(StatementMember(text, "record", "record_corrected"),
            std::vector<std::string>{StatementMember(text, "id").front()});
  EXPECT_EQ(StatementMember(text, "sqlstate", "record_corrected"), std::vector<std::string>{"\"58030\""});
  const AuditVerifyReport r = Verify(text);
  EXPECT_TRUE(r.ok()) << text;
}

// Closed while degraded, before any retry: the refusal is written as such ahead of the seal.
TEST(AuditQueuedWriter, ARefusalIsRewrittenWhenTheSinkClosesBeforeItsRetry) {
  AuditQueueOptions o = Options();
  o.retry_interval = absl::Hours(1);
  o.close_timeout = absl::Seconds(5);
  auto sink = MemorySink::Open(o);
  sink->fail = true;
  EXPECT_TRUE(absl::IsUnavailable(sink->Append(Refusable(1))));
  sink->fail = false;
  ASSERT_TRUE(sink->Close().ok());
  const std::string text = sink->Text();
  EXPECT_EQ(Types(text), (std::vector<std::string>{"statement", "audit_degraded", "seal"})) << text;
  EXPECT_EQ(StatementMember(text, "outcome"), (std::vector<std::string>{"\"refused\""}));
  const AuditVerifyReport r = Verify(text);
  EXPECT_TRUE(r.ok()) << text;
}

}  // namespace
}  // namespace pgmask::proxy
