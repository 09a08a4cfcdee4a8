#include "proxy/audit_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

using testing::TestKey;
using testing::TestStatement;

// Answers every record with a fixed status, or keeps it until Answer().
class FakeSink final : public AuditSink {
 public:
  explicit FakeSink(absl::Status answer, bool deferred = false) : answer_(std::move(answer)), deferred_(deferred) {}
  void Submit(const AuditRecord& record, Done done) override {
    ++submitted;
    records.push_back(record);
    if (deferred_) {
      waiting_.push_back(std::move(done));
    } else {
      done(answer_);
    }
  }
  void Answer() {
    for (Done& d : waiting_) d(answer_);
    waiting_.clear();
  }
  absl::Status Close() override { return absl::OkStatus(); }
  AuditSinkHealth Health() const override {
    AuditSinkHealth h;
    h.degraded = !answer_.ok();
    return h;
  }
  int submitted = 0;
  std::vector<AuditRecord> records;

 private:
  absl::Status answer_;
  bool deferred_;
  std::vector<Done> waiting_;
};

struct Result {
  int calls = 0;
  absl::Status status;
};

AuditSink::Done Record(Result& r) {
  return [&r](absl::Status s) {
    ++r.calls;
    r.status = std::move(s);
  };
}

AuditStatement Refusable(int n) {
  AuditStatement st = TestStatement(n);
  st.refused_unless_durable = true;
  return st;
}

// A service over a file sink and a database sink that answer as given.
struct TwoSinks {
  TwoSinks(absl::Status file_answer, absl::Status database_answer, AuditOnFailure on_failure,
           bool database_deferred = false) {
    auto f = std::make_unique<FakeSink>(std::move(file_answer));
    auto d = std::make_unique<FakeSink>(std::move(database_answer), database_deferred);
    file = f.get();
    database = d.get();
    std::vector<std::unique_ptr<AuditSink>> sinks;
    sinks.push_back(std::move(f));
    sinks.push_back(std::move(d));
    service = std::make_unique<AuditService>(std::move(sinks), TestKey(), on_failure);
  }
  FakeSink* file;
  FakeSink* database;
  std::unique_ptr<AuditService> service;
};

TEST(AuditService, DurableOnlyWhenEverySinkIs) {
  TwoSinks t(absl::OkStatus(), absl::OkStatus(), AuditOnFailure::kBlock, /*database_deferred=*/true);
  Result r;
  t.service->Submit(TestStatement(1), Record(r));
  EXPECT_EQ(r.calls, 0) << "one sink has not answered yet";
  t.database->Answer();
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(r.status.ok());
  EXPECT_FALSE(t.service->degraded());
  EXPECT_TRUE(t.service->blocks());
}

TEST(AuditService, AnySinkFailingFailsTheRecord) {
  TwoSinks t(absl::OkStatus(), absl::UnavailableError("audit database down"), AuditOnFailure::kAllow);
  Result r;
  t.service->Submit(TestStatement(1), Record(r));
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(absl::IsUnavailable(r.status)) << r.status;
  EXPECT_TRUE(t.service->degraded());
  EXPECT_FALSE(t.service->blocks());
}

TEST(AuditService, AStatementRefusedForOneSinkIsCorrectedInTheSinkThatHasIt) {
  TwoSinks t(absl::OkStatus(), absl::UnavailableError("audit database down"), AuditOnFailure::kBlock,
             /*database_deferred=*/true);
  Result r;
  t.service->Submit(Refusable(1), Record(r));
  EXPECT_EQ(t.file->records.size(), 1u) << "no correction before every sink has answered";
  t.database->Answer();
  ASSERT_EQ(r.calls, 1);
  EXPECT_TRUE(absl::IsUnavailable(r.status)) << r.status;

  // One id in both trails; the file, which made the record durable, is told it was refused.
  ASSERT_EQ(t.database->records.size(), 1u);
  ASSERT_EQ(t.file->records.size(), 2u);
  const std::string id = std::get<AuditStatement>(t.file->records[0]).id;
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(std::get<AuditStatement>(t.database->records[0]).id, id);
  const auto* correction = std::get_if<AuditEvent>(&t.file->records[1]);
  ASSERT_NE(correction, nullptr);
  EXPECT_EQ(correction->kind, AuditEventKind::kRecordCorrected);
  EXPECT_EQ(correction->record, id);
  EXPECT_EQ(correction->outcome, "refused");
  EXPECT_EQ(correction->sqlstate, kAuditUnavailableSqlstate);

  // Every statement gets an id of its own.
  t.service->Submit(Refusable(2), Record(r));
  t.database->Answer();
  EXPECT_NE(std::get<AuditStatement>(t.database->records[1]).id, id);
}

TEST(AuditService, NoCorrectionWhenTheStatementIsServedOrNoSinkHasItsRecord) {
  // audit_on_failure allow: the statement is served, so the durable record is right as it is.
  TwoSinks allow(absl::OkStatus(), absl::UnavailableError("audit database down"), AuditOnFailure::kAllow);
  Result r;
  allow.service->Submit(TestStatement(1), Record(r));
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(allow.file->records.size(), 1u);
  // Both sinks failed: neither holds a record to correct.
  TwoSinks down(absl::UnavailableError("disk full"), absl::UnavailableError("audit database down"),
                AuditOnFailure::kBlock);
  down.service->Submit(Refusable(1), Record(r));
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(down.file->records.size(), 1u);
  EXPECT_EQ(down.database->records.size(), 1u);
}

TEST(AuditService, NoSinkConfiguredMeansNoService) {
  Metrics metrics;
  ServeConfig config;
  absl::StatusOr<std::unique_ptr<AuditService>> service = AuditService::Open(config, metrics);
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(*service, nullptr);
}

}  // namespace
}  // namespace pgmask::proxy
