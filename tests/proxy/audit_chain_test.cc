#include "proxy/audit_chain.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "proxy/audit_record.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

using testing::TestKey;
using testing::TestStatement;

std::string Strip(std::string line) {
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

TEST(AuditChain, RecordIdsAreDistinctHexAcrossPoolRefills) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {  // 32 KiB drawn: eight refills of the per-thread pool
    const std::string id = RandomHex(16);
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ASSERT_TRUE(seen.insert(id).second) << id;
  }
  EXPECT_EQ(RandomHex(100).size(), 128u);  // capped at 64 bytes
  EXPECT_EQ(RandomHex(0), "");
}

TEST(AuditChain, LinesCarrySeqPrevAndAnHmacOverTheRest) {
  auto chain = AuditChain::Create(TestKey(), "replica-1");
  ASSERT_TRUE(chain.ok());
  const std::string first = chain->Append(AuditRecordBody(TestStatement(1)));
  const std::string second = chain->Append(AuditRecordBody(TestStatement(2)));
  ASSERT_EQ(first.back(), '\n');
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1);
  EXPECT_TRUE(first.starts_with("{\"seq\":1,\"id\":\""));

  auto a = ParseAuditLine(Strip(first));
  auto b = ParseAuditLine(Strip(second));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(a->prev, kAuditGenesis);
  EXPECT_EQ(a->type, "statement");
  EXPECT_EQ(a->fields.at("proxy").as_string(), "replica-1");
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(b->prev, a->hmac);
  EXPECT_TRUE(chain->Authentic(*a));
  EXPECT_TRUE(chain->Authentic(*b));
  EXPECT_EQ(chain->head().seq, 2u);
  EXPECT_EQ(chain->head().hmac, b->hmac);
  // Field order: seq, id, proxy, the body, prev, hmac.
  std::vector<std::string> keys;
  for (const auto& kv : a->fields) keys.emplace_back(kv.key());
  EXPECT_EQ(keys.front(), "seq");
  EXPECT_EQ(keys[1], "id");
  EXPECT_EQ(keys[2], "proxy");
  EXPECT_EQ(keys[3], "ts");
  EXPECT_EQ(keys[keys.size() - 2], "prev");
  EXPECT_EQ(keys.back(), "hmac");
}

TEST(AuditChain, AnyChangedByteOrAnotherKeyFailsAuthentication) {
  auto chain = AuditChain::Create(TestKey(), "p");
  auto other = AuditChain::Create(TestKey('x'), "p");
  ASSERT_TRUE(chain.ok() && other.ok());
  const std::string line = Strip(chain->Append(AuditRecordBody(TestStatement(1))));
  auto parsed = ParseAuditLine(line);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(other->Authentic(*parsed));
  std::string changed = line;
  changed.replace(changed.find("analyst"), 7, "analysX");
  auto p2 = ParseAuditLine(changed);
  ASSERT_TRUE(p2.ok());
  EXPECT_FALSE(chain->Authentic(*p2));
  // Same JSON, different bytes (a space): still a change.
  std::string spaced = line;
  spaced.insert(spaced.find(",\"user\""), " ");
  auto p3 = ParseAuditLine(spaced);
  ASSERT_TRUE(p3.ok());
  EXPECT_FALSE(chain->Authentic(*p3));
}

TEST(AuditChain, ContinuesFromAGivenHead) {
  auto chain = AuditChain::Create(TestKey(), "p", {41, std::string(64, 'a')});
  ASSERT_TRUE(chain.ok());
  auto line = ParseAuditLine(Strip(chain->Append(AuditRecordBody(TestStatement(1)))));
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->seq, 42u);
  EXPECT_EQ(line->prev, std::string(64, 'a'));
}

TEST(AuditChain, ARecordKeepsTheIdItWasGiven) {
  auto chain = AuditChain::Create(TestKey(), "p");
  ASSERT_TRUE(chain.ok());
  const std::string id(32, 'e');
  auto given = ParseAuditLine(Strip(chain->Append(AuditRecordBody(TestStatement(1)), nullptr, id)));
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->fields.at("id").as_string(), id);
  EXPECT_TRUE(chain->Authentic(*given));
  auto drawn = ParseAuditLine(Strip(chain->Append(AuditRecordBody(TestStatement(2)))));
  ASSERT_TRUE(drawn.ok());
  EXPECT_NE(drawn->fields.at("id").as_string(), id);
  EXPECT_EQ(drawn->fields.at("id").as_string().size(), 32u);
}

TEST(AuditChain, ParseRejectsLinesThatAreNotRecords) {
  for (const char* bad : {"", "{}", "not json", "{\"seq\":1,\"prev\":\"x\",\"hmac\":\"y\"}",
                          "{\"a\":1,\"hmac\":\"" "0000000000000000000000000000000000000000000000000000000000000000\"}"}) {
    EXPECT_FALSE(ParseAuditLine(bad).ok()) << bad;
  }
}

TEST(AuditChain, SealAndFileStartBodiesNameTheHead) {
  const AuditChainHead head{7, std::string(64, 'c')};
  const std::string seal = AuditSealBody(absl::UnixEpoch(), AuditSealReason::kRotate, "audit.jsonl.1", 3, head);
  EXPECT_NE(seal.find("\"type\":\"seal\",\"reason\":\"rotate\",\"file\":\"audit.jsonl.1\",\"first_seq\":3,\"last_seq\":7"), std::string::npos) << seal;
  EXPECT_NE(seal.find(head.hmac), std::string::npos);
  const std::string start = AuditFileStartBody(absl::UnixEpoch(), "audit.jsonl.1", head);
  EXPECT_NE(start.find("\"previous_seal\":\"" + head.hmac), std::string::npos);
}

TEST(AuditKey, ComesFromTheFileOrTheEnvironment) {
  unsetenv("PGMASK_AUDIT_KEY");
  auto missing = LoadAuditKey("");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("PGMASK_AUDIT_KEY"), std::string::npos);
  setenv("PGMASK_AUDIT_KEY", std::string(64, 'a').c_str(), 1);
  auto from_env = LoadAuditKey("");
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->bytes(), std::string(32, '\xaa'));
  unsetenv("PGMASK_AUDIT_KEY");
  testing::TempDir dir;
  testing::WriteLines(dir.File("audit.key"), {std::string(64, 'b')});
  auto from_file = LoadAuditKey(dir.File("audit.key"));
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->bytes(), std::string(32, '\xbb'));
  EXPECT_FALSE(LoadAuditKey(dir.File("absent.key")).ok());
}

}  // namespace
}  // namespace pgmask::proxy
