#include "proxy/audit_record.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>

#include "proxy/audit_row_keys.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

namespace json = boost::json;
using testing::TestKey;
using testing::TestStatement;

json::object Parse(const AuditRecord& r) {
  return json::parse("{" + AuditRecordBody(r) + "}").as_object();
}

std::vector<std::string> Keys(const json::object& o) {
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  return keys;
}

TEST(AuditRecord, StatementHasEveryFieldInOrder) {
  AuditStatement st = TestStatement(12);
  st.session.client_tls = AuditTlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384"};
  st.keys = {{"public.patients", {"00ff"}, 12, 100, false}};
  st.break_glass = "INC-123: outage";
  const json::object o = Parse(st);
  EXPECT_EQ(Keys(o), (std::vector<std::string>{
                         "ts", "type", "session", "user", "roles", "client", "application",
                         "database", "tls", "protocol", "command", "fingerprint", "query",
                         "columns", "rows", "keys", "outcome", "sqlstate", "duration_ms", "policy",
                         "break_glass"}));
  EXPECT_EQ(o.at("ts").as_string(), "2024-05-01T12:00:00.012Z");
  EXPECT_EQ(o.at("type").as_string(), "statement");
  EXPECT_EQ(o.at("roles").as_array().size(), 2u);
  EXPECT_EQ(o.at("tls").at("client").at("version").as_string(), "TLSv1.3");
  EXPECT_TRUE(o.at("tls").at("upstream").is_null());
  EXPECT_EQ(o.at("protocol").as_string(), "extended");
  const json::object& col = o.at("columns").as_array()[0].as_object();
  EXPECT_EQ(Keys(col), (std::vector<std::string>{"column", "class", "use", "action"}));
  EXPECT_EQ(col.at("use").as_string(), "output");
  EXPECT_EQ(col.at("action").as_string(), "tokenize");
  EXPECT_EQ(o.at("rows").as_int64(), 12);
  const json::object& keys = o.at("keys").as_array()[0].as_object();
  EXPECT_EQ(Keys(keys), (std::vector<std::string>{"table", "hmac", "rows", "cap", "capped"}));
  EXPECT_FALSE(keys.at("capped").as_bool());
  EXPECT_EQ(o.at("outcome").as_string(), "masked");
  EXPECT_TRUE(o.at("sqlstate").is_null());
  EXPECT_EQ(o.at("duration_ms").as_int64(), 3);
  EXPECT_EQ(o.at("break_glass").as_string(), "INC-123: outage");
}

TEST(AuditRecord, RefusedStatementHasNullRowsAndItsSqlstate) {
  AuditStatement st = TestStatement(1);
  st.rows.reset();
  st.outcome = AuditOutcome::kRefused;
  st.sqlstate = "42501";
  const json::object o = Parse(st);
  EXPECT_TRUE(o.at("rows").is_null());
  EXPECT_EQ(o.at("outcome").as_string(), "refused");
  EXPECT_EQ(o.at("sqlstate").as_string(), "42501");
  EXPECT_TRUE(o.at("break_glass").is_null());
}

// A record written late for a statement refused meanwhile reads exactly as the record of that
// refusal would have.
TEST(AuditRecord, RefusedBodyIsTheRefusalsRecord) {
  AuditStatement st = TestStatement(7);
  st.keys = {{"public.patients", {"ab12", "cd34"}, 2, 1000, false}};
  st.break_glass = "INC-1: outage";
  AuditStatement refused = st;
  refused.rows.reset();
  refused.keys.clear();
  refused.outcome = AuditOutcome::kRefused;
  refused.sqlstate = std::string(kAuditUnavailableSqlstate);
  EXPECT_EQ(AuditRefusedBody(AuditRecordBody(st)), AuditRecordBody(refused));
  AuditStatement failed = st;
  failed.outcome = AuditOutcome::kFailed;
  failed.sqlstate = "22012";
  EXPECT_EQ(AuditRefusedBody(AuditRecordBody(failed)), AuditRecordBody(refused));
}

TEST(AuditRecord, RefusedBodyLeavesEventsAndGarbageAsTheyAre) {
  AuditEvent ev;
  ev.kind = AuditEventKind::kAuditDegraded;
  ev.reason = "disk full";
  const std::string event = AuditRecordBody(ev);
  EXPECT_EQ(AuditRefusedBody(event), event);
  const std::string body = AuditRecordBody(TestStatement(1));
  for (const std::string& bad : {body.substr(0, body.size() / 2), std::string("\xff\x00garbage", 9),
                                 std::string(), std::string(1 << 20, '['), std::string("\"a\":1}{\"b\":2")}) {
    EXPECT_EQ(AuditRefusedBody(bad), bad);
  }
}

TEST(AuditRecord, EventsCarryOnlyTheirFields) {
  AuditEvent reload;
  reload.kind = AuditEventKind::kPolicyReload;
  reload.time = absl::FromUnixSeconds(1714564800);
  reload.outcome = "rejected";
  reload.policy = "abc";
  EXPECT_EQ(Keys(Parse(reload)), (std::vector<std::string>{"ts", "type", "outcome", "policy"}));
  EXPECT_EQ(Parse(reload).at("type").as_string(), "policy_reload");

  AuditEvent bg;
  bg.kind = AuditEventKind::kBreakGlassStart;
  bg.time = absl::FromUnixSeconds(1714564800);
  bg.session = testing::TestSession("oncall");
  bg.reason = "INC-123: payments outage";
  bg.expires = bg.time + absl::Minutes(30);
  const json::object o = Parse(bg);
  EXPECT_EQ(o.at("type").as_string(), "break_glass_start");
  EXPECT_EQ(o.at("user").as_string(), "oncall");
  EXPECT_EQ(o.at("expires").as_string(), "2024-05-01T12:30:00.000Z");

  AuditEvent refused;
  refused.kind = AuditEventKind::kConnectionRefused;
  refused.reason = "too_many_clients";
  refused.sqlstate = "53300";
  EXPECT_EQ(Parse(refused).at("type").as_string(), "connection_refused");
  const AuditEvent correction =
      AuditRefusalCorrection(std::string(32, 'f'), absl::FromUnixSeconds(1714564800), "why");
  const json::object c = Parse(correction);
  EXPECT_EQ(Keys(c), (std::vector<std::string>{"ts", "type", "record", "outcome", "reason", "sqlstate"}));
  EXPECT_EQ(c.at("type").as_string(), "record_corrected");
  EXPECT_EQ(c.at("record").as_string(), std::string(32, 'f'));
  EXPECT_EQ(c.at("outcome").as_string(), "refused");
  EXPECT_EQ(c.at("sqlstate").as_string(), kAuditUnavailableSqlstate);
  for (AuditEventKind k : {AuditEventKind::kBreakGlassEnd, AuditEventKind::kAuditDegraded,
                           AuditEventKind::kAuditResumed}) {
    AuditEvent e;
    e.kind = k;
    EXPECT_EQ(Parse(e).at("type").as_string(), AuditEventKindName(k));
  }
}

TEST(AuditRecord, TextThatIsNotUtf8BecomesReplacementCharacters) {
  AuditStatement st = TestStatement(1);
  st.session.user = "bad\xff\xfe-user";
  st.query = "SELECT \xc3\xa9";  // valid: kept
  const json::object o = Parse(st);
  EXPECT_EQ(o.at("user").as_string(), "bad\xEF\xBF\xBD\xEF\xBF\xBD-user");
  EXPECT_EQ(o.at("query").as_string(), "SELECT \xc3\xa9");
  EXPECT_EQ(ToValidUtf8("\xc3"), "\xEF\xBF\xBD");
}

TEST(AuditRecord, ControlCharactersAreEscaped) {
  AuditStatement st = TestStatement(1);
  st.query = "SELECT 1\n\"x\"";
  const std::string body = AuditRecordBody(st);
  EXPECT_EQ(body.find('\n'), std::string::npos);
  EXPECT_EQ(Parse(st).at("query").as_string(), "SELECT 1\n\"x\"");
}

TEST(AuditRecord, ApplicationNamesThatCouldCarryValuesAreReplaced) {
  EXPECT_EQ(SanitizeApplicationName("psql"), "psql");
  EXPECT_EQ(SanitizeApplicationName("DBeaver - Main/SQL (x)"), "DBeaver - Main/SQL (x)");
  EXPECT_EQ(SanitizeApplicationName("app 123-45-6789"), "?15");
  EXPECT_EQ(SanitizeApplicationName("alice@example.com"), "?17");
  EXPECT_EQ(SanitizeApplicationName(std::string(65, 'a')), "?65");
  EXPECT_EQ(SanitizeApplicationName(""), "");
}

TEST(AuditTime, FormatsAndParsesMilliseconds) {
  const absl::Time t = absl::FromUnixMillis(1714564800123);
  EXPECT_EQ(FormatAuditTime(t), "2024-05-01T12:00:00.123Z");
  absl::Time back;
  ASSERT_TRUE(ParseAuditTime(FormatAuditTime(t), back));
  EXPECT_EQ(back, t);
  EXPECT_FALSE(ParseAuditTime("yesterday", back));
}

TEST(AuditTime, FormatsAsAbseilDoes) {
  const auto absl_format = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
  };
  // Leap days, century rules, the epoch, before it, sub-millisecond parts (rounded down), and
  // the ends of the four-digit years.
  const absl::Time cases[] = {
      absl::FromUnixMillis(0),
      absl::FromUnixMillis(-1),
      absl::FromUnixNanos(-1),
      absl::FromUnixNanos(1714564800123999999),
      absl::FromCivil(absl::CivilSecond(2024, 2, 29, 23, 59, 59), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(2000, 2, 29, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(2100, 3, 1, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(1900, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(0, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(999, 12, 31, 23, 59, 59), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(1000, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(-1, 12, 31, 0, 0, 0), absl::UTCTimeZone()),
      absl::InfinitePast(),
      absl::InfiniteFuture(),
  };
  for (const absl::Time t : cases) EXPECT_EQ(FormatAuditTime(t), absl_format(t));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    // 1700 to 2300, at nanosecond resolution.
    const int64_t us = static_cast<int64_t>(rng() % 18934560000000000ull) - 8520336000000000;
    const absl::Time t = absl::FromUnixMicros(us) + absl::Nanoseconds(static_cast<int64_t>(rng() % 1000));
    ASSERT_EQ(FormatAuditTime(t), absl_format(t)) << us;
  }
}

TEST(AuditRowKeys, HashesAreKeyedAndPerTable) {
  auto a = AuditRowKeyHasher::Create(TestKey('a'));
  auto b = AuditRowKeyHasher::Create(TestKey('b'));
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string h = a->Hash("public.patients", "42");
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, a->Hash("public.patients", "42"));
  EXPECT_NE(h, a->Hash("public.patients", "43"));
  EXPECT_NE(h, a->Hash("public.payments", "42"));
  EXPECT_NE(h, b->Hash("public.patients", "42"));
}

TEST(AuditRowKeys, CollectsDistinctKeysUpToTheCap) {
  auto hasher = AuditRowKeyHasher::Create(TestKey());
  ASSERT_TRUE(hasher.ok());
  AuditRowKeys keys(&*hasher, 3);
  for (const char* k : {"1", "2", "1", "3", "4", "5"}) keys.Add("public.patients", k);
  keys.Add("public.payments", "9");
  const std::vector<AuditTableKeys> out = keys.Take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].table, "public.patients");
  EXPECT_EQ(out[0].hmac.size(), 3u);
  EXPECT_EQ(out[0].rows, 6u);
  EXPECT_EQ(out[0].cap, 3u);
  EXPECT_TRUE(out[0].capped);
  EXPECT_EQ(out[0].hmac[0], hasher->Hash("public.patients", "1"));
  EXPECT_FALSE(out[1].capped);
  EXPECT_TRUE(keys.Take().empty());
}

}  // namespace
}  // namespace pgmask::proxy
