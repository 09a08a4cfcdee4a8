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
  void Submit(const AuditRecord&, Done done) override {
    ++submitted;
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

TEST(AuditService, DurableOnlyWhenEverySinkIs) {
  auto file = std::make_unique<FakeSink>(absl::OkStatus());
  auto database = std::make_unique<FakeSink>(absl::OkStatus(), /*deferred=*/true);
  FakeSink* db = database.get();
  std::vector<std::unique_ptr<AuditSink>> sinks;
  sinks.push_back(std::move(file));
  sinks.push_back(std::move(database));
  AuditService service(std::move(sinks), TestKey(), AuditOnFailure::kBlock);
  Result r;
  service.Submit(TestStatement(1), Record(r));
  EXPECT_EQ(r.calls, 0) << "one sink has not answered yet";
  db->Answer();
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(r.status.ok());
  EXPECT_FALSE(service.degraded());
  EXPECT_TRUE(service.blocks());
}

TEST(AuditService, AnySinkFailingFailsTheRecord) {
  std::vector<std::unique_ptr<AuditSink>> sinks;
  sinks.push_back(std::make_unique<FakeSink>(absl::UnavailableError("audit database down")));
  sinks.push_back(std::make_unique<FakeSink>(absl::OkStatus()));
  AuditService service(std::move(sinks), TestKey(), AuditOnFailure::kAllow);
  Result r;
  service.Submit(TestStatement(1), Record(r));
  EXPECT_EQ(r.calls, 1);
  EXPECT_TRUE(absl::IsUnavailable(r.status)) << r.status;
  EXPECT_TRUE(service.degraded());
  EXPECT_FALSE(service.blocks());
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
