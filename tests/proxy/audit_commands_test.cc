#include "proxy/audit_commands.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "proxy/audit_file_sink.h"
#include "proxy/audit_queries.h"
#include "proxy/audit_row_keys.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

using testing::ReadLines;
using testing::TempDir;
using testing::TestKey;
using testing::TestSession;
using testing::TestStatement;
using testing::WriteLines;

struct Result {
  int code;
  std::string out;
  std::string err;
};

class AuditCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("PGMASK_AUDIT_KEY");
    key_file_ = dir_.File("audit.key");
    std::string hex;
    for (int i = 0; i < 32; ++i) hex += "6b";  // TestKey(): 32 bytes of 'k'
    WriteLines(key_file_, {hex});
    trail_ = dir_.File("audit.jsonl");
    auto sink = OpenTrail(trail_);
    ASSERT_TRUE(sink.ok()) << sink.status();
    auto hasher = AuditRowKeyHasher::Create(TestKey());
    ASSERT_TRUE(hasher.ok());

    // analyst reads patients 41 and 42, masked.
    AuditStatement read = TestStatement(2);
    read.time = At("2024-05-01T09:00:00Z");
    AuditRowKeys keys(&*hasher, kDefaultAuditKeyCap);
    keys.Add("public.patients", "41");
    keys.Add("public.patients", "42");
    read.keys = keys.Take();
    ASSERT_TRUE((*sink)->Append(read).ok());

    // support reads patient 7 only.
    AuditStatement other = TestStatement(1, "support");
    other.time = At("2024-05-01T09:30:00Z");
    keys.Add("public.patients", "7");
    other.keys = keys.Take();
    ASSERT_TRUE((*sink)->Append(other).ok());

    // a bulk export whose key list was capped.
    AuditStatement bulk = TestStatement(5, "exporter");
    bulk.time = At("2024-05-01T10:00:00Z");
    AuditRowKeys capped(&*hasher, 2);
    for (const char* k : {"1", "2", "3", "4", "5"}) capped.Add("public.patients", k);
    bulk.keys = capped.Take();
    ASSERT_TRUE((*sink)->Append(bulk).ok());

    // on-call breaks glass, reads a card number in clear, and the window expires.
    AuditEvent start;
    start.kind = AuditEventKind::kBreakGlassStart;
    start.time = At("2024-05-02T12:00:00Z");
    start.session = TestSession("oncall");
    start.session->session = "7c1e";
    start.reason = "INC-123: payments outage";
    start.expires = At("2024-05-02T12:30:00Z");
    ASSERT_TRUE((*sink)->Append(start).ok());
    AuditStatement clear = TestStatement(3, "oncall");
    clear.session.session = "7c1e";
    clear.time = At("2024-05-02T12:01:02Z");
    clear.columns = {{"public.payments.card_number", "PCI", AuditColumnUse::kOutput, "clear"}};
    clear.outcome = AuditOutcome::kAllowed;
    clear.break_glass = "INC-123: payments outage";
    ASSERT_TRUE((*sink)->Append(clear).ok());
    AuditEvent end;
    end.kind = AuditEventKind::kBreakGlassEnd;
    end.time = At("2024-05-02T12:30:00Z");
    end.session = start.session;
    end.outcome = "expired";
    ASSERT_TRUE((*sink)->Append(end).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }

  static absl::StatusOr<std::unique_ptr<AuditFileSink>> OpenTrail(const std::string& path) {
    AuditFileSinkOptions options;
    options.path = path;
    options.proxy = "replica-1";
    return AuditFileSink::Open(options, TestKey());
  }

  static absl::Time At(const char* text) {
    absl::Time t;
    EXPECT_TRUE(ParseAuditTime(text, t)) << text;
    return t;
  }

  Result Run(std::vector<std::string> args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::ostringstream out, err;
    const int code = RunAuditCommand(views, out, err);
    return {code, out.str(), err.str()};
  }

  TempDir dir_;
  std::string key_file_;
  std::string trail_;
};

TEST_F(AuditCommands, VerifyExitsZeroWhenIntactAndOneOnAnyFault) {
  Result r = Run({"verify", "--audit-key-file", key_file_, trail_});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("audit verify: OK: 8 records in 1 file"), std::string::npos) << r.out;

  std::vector<std::string> lines = ReadLines(trail_);
  lines.erase(lines.begin() + 2);
  WriteLines(trail_, lines);
  r = Run({"verify", "--audit-key-file=" + key_file_, trail_});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(trail_ + ":3: removed: record seq 3 was removed between seq 2"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("audit verify: 1 fault in 7 records (1 file)"), std::string::npos) << r.out;
}

TEST_F(AuditCommands, VerifyDoesNotCallATrailCutBeforeARestartComplete) {
  // The last records and the seal cut off, then pgmask restarted on the file: every record left
  // authenticates and links, but nothing shows the cut was a crash.
  std::vector<std::string> lines = ReadLines(trail_);
  ASSERT_EQ(lines.size(), 8u);
  lines.resize(5);
  WriteLines(trail_, lines);
  {
    auto sink = OpenTrail(trail_);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Close().ok());
  }
  Result r = Run({"verify", "--audit-key-file", key_file_, trail_});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("WARNING: " + trail_ +
                       ":6: pgmask reopened the trail at seq 6 after a stop without a seal: a crash or kill -9, or "
                       "records cut off the end of the trail before a restart; the records from seq 1 up to seq 5 "
                       "cannot be shown complete"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("audit verify: UNPROVEN: 7 records in 1 file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--accept-unsealed 6"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("audit verify: OK"), std::string::npos) << r.out;

  // Accepted as the crash it was: intact and complete.
  r = Run({"verify", "--audit-key-file", key_file_, "--accept-unsealed", "6", trail_});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("accepted as a crash with --accept-unsealed 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audit verify: OK: 7 records"), std::string::npos) << r.out;
  // Another seq accepts nothing; a fault is still 1 whatever is accepted.
  EXPECT_EQ(Run({"verify", "--audit-key-file", key_file_, "--accept-unsealed", "5", trail_}).code, 3);
  EXPECT_EQ(Run({"verify", "--audit-key-file", key_file_, "--accept-unsealed", "x", trail_}).code, 2);
  lines = ReadLines(trail_);
  lines.erase(lines.begin() + 2);
  WriteLines(trail_, lines);
  EXPECT_EQ(Run({"verify", "--audit-key-file", key_file_, "--accept-unsealed", "6", trail_}).code, 1);
}

TEST_F(AuditCommands, VerifyTakesTheKeyFromTheEnvironment) {
  setenv("PGMASK_AUDIT_KEY", std::string(64, '0').c_str(), 1);  // the wrong key
  const Result r = Run({"verify", trail_});
  unsetenv("PGMASK_AUDIT_KEY");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("wrong key: none of the 8 records authenticates"), std::string::npos) << r.out;
}

TEST_F(AuditCommands, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"bogus"}).code, 2);
  EXPECT_EQ(Run({"verify", "--audit-key-file", key_file_}).code, 2);          // no file
  EXPECT_EQ(Run({"verify", trail_}).code, 2);                                 // no key
  EXPECT_EQ(Run({"verify", "--audit-key-file", dir_.File("nokey"), trail_}).code, 2);
  EXPECT_EQ(Run({"verify", "--bogus", trail_}).code, 2);
  EXPECT_EQ(Run({"who-accessed", "--audit-key-file", key_file_, "--table", "patients", trail_}).code, 2);
  EXPECT_EQ(Run({"who-accessed", "--audit-key-file", key_file_, "--dsn", "host=x", "--table", "t",
                 "--key", "1", trail_})
                .code,
            2);  // --dsn or files, not both
  EXPECT_EQ(Run({"verify", "--audit-key-file", key_file_, "--dsn", "host=x"}).code, 2);
  EXPECT_EQ(Run({"break-glass", "--audit-key-file", key_file_, "--since", "whenever", trail_}).code, 2);
  EXPECT_EQ(Run({"--help"}).code, 0);
}

TEST_F(AuditCommands, WhoAccessedFindsTheStatementsThatReturnedTheKey) {
  Result r = Run({"who-accessed", "--audit-key-file", key_file_, "--table", "public.patients", "--key",
                  "42", trail_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2024-05-01T09:00:00.000Z user=analyst roles=analyst,staff client=10.0.0.7:53124 "
                       "application=psql database=clinic session=3f2a1b command=SELECT outcome=masked "
                       "rows=2 columns=public.patients.ssn:PII:tokenize break_glass=- seq=2"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    query: SELECT id, ssn FROM patients WHERE id = $1"), std::string::npos);
  EXPECT_EQ(r.out.find("user=support"), std::string::npos) << r.out;
  // The capped export may have returned it.
  EXPECT_NE(r.out.find("user=exporter"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("possibly=\"key list capped at 2 of 5 rows\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 statement returned public.patients key 42; 1 more may have (key lists capped)"),
            std::string::npos)
      << r.out;

  // "patients" means public.patients; a key among the capped export's listed ones is certain.
  r = Run({"who-accessed", "--audit-key-file", key_file_, "--table", "patients", "--key", "1", trail_});
  EXPECT_NE(r.out.find("1 statement returned public.patients key 1\n"), std::string::npos) << r.out;
  r = Run({"who-accessed", "--audit-key-file", key_file_, "--table", "public.payments", "--key", "42", trail_});
  EXPECT_NE(r.out.find("no statement in the trail returned public.payments key 42"), std::string::npos);
}

TEST_F(AuditCommands, WhoAccessedWarnsAboutRecordsThatDoNotAuthenticate) {
  std::vector<std::string> lines = ReadLines(trail_);
  lines[1].replace(lines[1].find("analyst"), 7, "nobody1");
  WriteLines(trail_, lines);
  const Result r = Run({"who-accessed", "--audit-key-file", key_file_, "--table", "public.patients",
                        "--key", "42", trail_});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.find("nobody1"), std::string::npos);
  EXPECT_NE(r.err.find("1 lines do not authenticate"), std::string::npos) << r.err;
}

TEST_F(AuditCommands, BreakGlassListsSessionsWithTheirStatements) {
  Result r = Run({"break-glass", "--audit-key-file", key_file_, "--since", "2024-05-02", trail_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("break-glass user=oncall roles=oncall,staff client=10.0.0.7:53124 "
                       "application=psql database=clinic session=7c1e\n"
                       "  2024-05-02T12:00:00.000Z start reason=\"INC-123: payments outage\" "
                       "expires=2024-05-02T12:30:00.000Z seq=5\n"
                       "  2024-05-02T12:01:02.000Z command=SELECT outcome=allowed rows=3 "
                       "columns=public.payments.card_number:PCI:clear seq=6\n"
                       "      query: SELECT id, ssn FROM patients WHERE id = $1\n"
                       "  2024-05-02T12:30:00.000Z end outcome=expired seq=7\n"
                       "1 break-glass session, 1 statement since 2024-05-02T00:00:00.000Z\n"),
            std::string::npos)
      << r.out;
  r = Run({"break-glass", "--audit-key-file", key_file_, "--since", "2024-05-03T00:00:00Z", trail_});
  EXPECT_NE(r.out.find("no break-glass activity since 2024-05-03T00:00:00.000Z"), std::string::npos) << r.out;
}

// A statement refused because another sink could not make its record durable: this trail holds
// its record as submitted, then a correction naming it.
TEST_F(AuditCommands, ACorrectedStatementReturnedNothing) {
  const std::string trail = dir_.File("corrected.jsonl");
  auto sink = OpenTrail(trail);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto hasher = AuditRowKeyHasher::Create(TestKey());
  ASSERT_TRUE(hasher.ok());
  AuditRowKeys keys(&*hasher, kDefaultAuditKeyCap);
  keys.Add("public.patients", "42");
  AuditStatement refused = TestStatement(2);
  refused.keys = keys.Take();
  refused.id = std::string(32, 'a');
  refused.break_glass = "INC-9: refused";
  ASSERT_TRUE((*sink)->Append(refused).ok());
  AuditStatement served = TestStatement(1, "support");
  keys.Add("public.patients", "42");
  served.keys = keys.Take();
  served.id = std::string(32, 'b');
  ASSERT_TRUE((*sink)->Append(served).ok());
  ASSERT_TRUE((*sink)->Append(AuditRefusalCorrection(refused.id, At("2024-05-01T09:00:01Z"), "why")).ok());
  ASSERT_TRUE((*sink)->Close().ok());

  Result r = Run({"who-accessed", "--audit-key-file", key_file_, "--table", "patients", "--key", "42", trail});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("user=analyst"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("user=support"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 statement returned public.patients key 42\n"), std::string::npos) << r.out;

  r = Run({"break-glass", "--audit-key-file", key_file_, "--since", "2000-01-01", trail});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("command=SELECT outcome=refused rows=- columns=public.patients.ssn:PII:tokenize "
                       "corrected_by_seq=4 seq=2"),
            std::string::npos)
      << r.out;
}

TEST(AuditSince, AcceptsTimesDatesAndAges) {
  const absl::Time now = absl::FromUnixSeconds(1714564800);
  absl::Time t;
  ASSERT_TRUE(ParseSince("2024-05-01T00:00:00Z", now, t));
  EXPECT_EQ(t, absl::FromUnixSeconds(1714521600));
  ASSERT_TRUE(ParseSince("2024-05-01", now, t));
  EXPECT_EQ(t, absl::FromUnixSeconds(1714521600));
  ASSERT_TRUE(ParseSince("24h", now, t));
  EXPECT_EQ(t, now - absl::Hours(24));
  ASSERT_TRUE(ParseSince("7d", now, t));
  EXPECT_EQ(t, now - absl::Hours(24 * 7));
  EXPECT_FALSE(ParseSince("yesterday", now, t));
  EXPECT_FALSE(ParseSince("xd", now, t));
}

}  // namespace
}  // namespace pgmask::proxy
