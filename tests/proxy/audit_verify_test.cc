#include "proxy/audit_verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "absl/strings/str_replace.h"
#include "proxy/audit_chain.h"
#include "proxy/audit_file_sink.h"
#include "tests/proxy/audit_test_util.h"

namespace pgmask::proxy {
namespace {

using testing::ReadLines;
using testing::TempDir;
using testing::TestKey;
using testing::TestStatement;
using testing::WriteLines;

// Writes `records` statements through the file sink and closes it. Lines of a one-file trail:
// 1 start (seq 1), 2..records+1 statements (seq = line), records+2 the shutdown seal.
void MakeTrail(const std::string& path, int records, uint64_t rotate_bytes = kDefaultAuditRotateBytes) {
  AuditFileSinkOptions options;
  options.path = path;
  options.proxy = "replica-1";
  options.rotate_bytes = rotate_bytes;
  auto sink = AuditFileSink::Open(options, TestKey());
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (int i = 0; i < records; ++i) ASSERT_TRUE((*sink)->Append(TestStatement(i)).ok());
  ASSERT_TRUE((*sink)->Close().ok());
}

std::vector<std::string> TrailFiles(const TempDir& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    if (e.path().filename().string().starts_with("audit.jsonl")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Describe(const AuditVerifyReport& r) {
  std::ostringstream out;
  PrintAuditVerifyReport(r, out);
  return out.str();
}

TEST(AuditVerify, AnIntactTrailIsOk) {
  TempDir dir;
  MakeTrail(dir.File("audit.jsonl"), 10);
  const AuditVerifyReport r = VerifyAuditTrail({dir.File("audit.jsonl")}, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.sealed);
  EXPECT_EQ(r.lines, 12u);
  EXPECT_EQ(r.head.seq, 12u);
  EXPECT_NE(Describe(r).find("audit verify: OK: 12 records in 1 file, seq 1..12, sealed at shutdown"),
            std::string::npos)
      << Describe(r);
}

// A line of the one-file trail above (1-based) with `from` replaced by `to`.
std::function<void(std::vector<std::string>&)> Replace(size_t line, std::string from, std::string to) {
  return [=](std::vector<std::string>& l) {
    const size_t at = l[line - 1].find(from);
    ASSERT_NE(at, std::string::npos) << from;
    l[line - 1].replace(at, from.size(), to);
  };
}

std::function<void(std::vector<std::string>&)> Erase(size_t first, size_t last) {
  return [=](std::vector<std::string>& l) { l.erase(l.begin() + (first - 1), l.begin() + last); };
}

struct TamperCase {
  std::string name;
  std::function<void(std::vector<std::string>&)> tamper;
  AuditFaultKind kind;
  std::string where;  // "LINE" of the first fault in audit.jsonl, or "" for the file
  std::string message;
  size_t faults = 1;
};

void PrintTo(const TamperCase& c, std::ostream* os) { *os << c.name; }

class TamperTest : public ::testing::TestWithParam<TamperCase> {};

TEST_P(TamperTest, IsDetectedAndNamed) {
  const TamperCase& c = GetParam();
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  MakeTrail(path, 10);
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 12u);
  c.tamper(lines);
  WriteLines(path, lines);
  const AuditVerifyReport r = VerifyAuditTrail({path}, TestKey());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.faults.size(), c.faults) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, c.kind) << Describe(r);
  EXPECT_EQ(r.faults[0].where, c.where.empty() ? path : path + ":" + c.where) << Describe(r);
  EXPECT_NE(r.faults[0].message.find(c.message), std::string::npos) << Describe(r);
}

std::string ForeignLine(uint64_t seq) {
  auto chain = AuditChain::Create(TestKey('x'), "replica-1", {seq - 1, std::string(64, '0')});
  std::string line = chain->Append(AuditRecordBody(TestStatement(99, "intruder")));
  line.pop_back();
  return line;
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, TamperTest,
    ::testing::Values(
        TamperCase{"ChangedField", Replace(5, "\"user\":\"analyst\"", "\"user\":\"admin\""),
                   AuditFaultKind::kChanged, "5", "record seq 5 was changed"},
        TamperCase{"ChangedRowCount", Replace(7, "\"rows\":5", "\"rows\":0"), AuditFaultKind::kChanged,
                   "7", "record seq 7 was changed"},
        TamperCase{"ChangedSeq", Replace(5, "\"seq\":5,", "\"seq\":50,"), AuditFaultKind::kChanged,
                   "5", "record seq 5 was changed: its hmac does not match its content (its seq now reads 50)"},
        TamperCase{"ChangedHmac",
                   [](std::vector<std::string>& l) {
                     const size_t at = l[4].rfind("\"hmac\":\"") + 8;
                     l[4][at] = l[4][at] == 'a' ? 'b' : 'a';
                   },
                   AuditFaultKind::kChanged, "5", "record seq 5 was changed"},
        TamperCase{"ChangedSeal", Replace(12, "\"reason\":\"shutdown\"", "\"reason\":\"rotate\""),
                   AuditFaultKind::kChanged, "12", "record seq 12 was changed"},
        TamperCase{"LineNoLongerJson", [](std::vector<std::string>& l) { l[4] = "garbage"; },
                   AuditFaultKind::kChanged, "5", "record seq 5 was changed: the line is no longer"},
        TamperCase{"RemovedRecord", Erase(5, 5), AuditFaultKind::kRemoved, "5",
                   "record seq 5 was removed between seq 4 ("},
        TamperCase{"RemovedRange", Erase(4, 6), AuditFaultKind::kRemoved, "4",
                   "records seq 4..6 (3 records) were removed"},
        TamperCase{"InsertedEditedCopy",
                   [](std::vector<std::string>& l) {
                     l.insert(l.begin() + 5, absl::StrReplaceAll(l[4], {{"analyst", "admin"}}));
                   },
                   AuditFaultKind::kInserted, "6", "was inserted between seq 5"},
        TamperCase{"InsertedForged",
                   [](std::vector<std::string>& l) { l.insert(l.begin() + 5, ForeignLine(6)); },
                   AuditFaultKind::kInserted, "6", "(claiming seq 6) was inserted between seq 5"},
        TamperCase{"InsertedGarbage", [](std::vector<std::string>& l) { l.insert(l.begin() + 5, "{}"); },
                   AuditFaultKind::kCorrupt, "6", "was inserted"},
        TamperCase{"MovedToTheEnd",
                   [](std::vector<std::string>& l) {
                     const std::string moved = l[2];
                     l.erase(l.begin() + 2);
                     l.insert(l.end() - 1, moved);
                   },
                   AuditFaultKind::kReordered, "11", "record seq 3 is out of order: it comes after seq 11"},
        TamperCase{"Duplicated", [](std::vector<std::string>& l) { l.insert(l.begin() + 5, l[4]); },
                   AuditFaultKind::kDuplicated, "6", "record seq 5 appears twice"},
        TamperCase{"TailCut", Erase(10, 12), AuditFaultKind::kTruncated, "9",
                   "the trail ends at seq 9 without a shutdown seal"},
        TamperCase{"SealRemoved", Erase(12, 12), AuditFaultKind::kTruncated, "11",
                   "the trail ends at seq 11 without a shutdown seal"},
        TamperCase{"StartRemoved", Erase(1, 2), AuditFaultKind::kMissingStart, "1",
                   "the trail starts at seq 3: records seq 1..2 are missing"}),
    [](const ::testing::TestParamInfo<TamperCase>& info) { return info.param.name; });

// The swapped case is reported at whichever of the two the longest in-order run leaves out.
TEST(AuditVerify, SwappedRecordsAreOneFault) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  MakeTrail(path, 10);
  std::vector<std::string> lines = ReadLines(path);
  std::swap(lines[4], lines[5]);
  WriteLines(path, lines);
  const AuditVerifyReport r = VerifyAuditTrail({path}, TestKey());
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kReordered);
  EXPECT_TRUE(r.faults[0].where == path + ":5" || r.faults[0].where == path + ":6") << Describe(r);
}

TEST(AuditVerify, AnIncompleteLastLineIsACutTail) {
  TempDir dir;
  const std::string path = dir.File("audit.jsonl");
  MakeTrail(path, 3);
  std::string content = testing::ReadAll(path);
  content.resize(content.size() - 40);
  WriteLines(path, {});
  std::ofstream(path, std::ios::binary) << content;
  const AuditVerifyReport r = VerifyAuditTrail({path}, TestKey());
  ASSERT_EQ(r.faults.size(), 2u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kTruncated);
  EXPECT_EQ(r.faults[0].where, path + ":4") << Describe(r);
  EXPECT_NE(r.faults[1].message.find("incomplete line"), std::string::npos) << Describe(r);
}

TEST(AuditVerify, TheWrongKeyIsOneFault) {
  TempDir dir;
  MakeTrail(dir.File("audit.jsonl"), 5);
  const AuditVerifyReport r = VerifyAuditTrail({dir.File("audit.jsonl")}, TestKey('z'));
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kWrongKey);
  EXPECT_NE(r.faults[0].message.find("none of the 7 records authenticates"), std::string::npos);
}

TEST(AuditVerify, AMissingFileIsAFault) {
  const AuditVerifyReport r = VerifyAuditTrail({"/nonexistent/audit.jsonl"}, TestKey());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kUnreadable);
}

class RotatedTrail : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeTrail(dir_.File("audit.jsonl"), 30, 3000);
    files_ = TrailFiles(dir_);
    ASSERT_GE(files_.size(), 4u);
  }
  TempDir dir_;
  std::vector<std::string> files_;  // audit.jsonl, audit.jsonl.1, .10?, ... sorted by name
};

TEST_F(RotatedTrail, VerifiesAcrossFilesInAnyOrder) {
  std::vector<std::string> shuffled = files_;
  std::reverse(shuffled.begin(), shuffled.end());
  const AuditVerifyReport r = VerifyAuditTrail(shuffled, TestKey());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.sealed);
  EXPECT_EQ(r.files, files_.size());
  // Each rotated file ends with a rotation seal, and the next begins with a file_start.
  const std::vector<std::string> first = ReadLines(dir_.File("audit.jsonl.1"));
  EXPECT_NE(first.back().find("\"type\":\"seal\",\"reason\":\"rotate\",\"file\":\"audit.jsonl.1\""),
            std::string::npos);
  EXPECT_NE(ReadLines(dir_.File("audit.jsonl.2")).front().find(
                "\"type\":\"file_start\",\"previous_file\":\"audit.jsonl.1\""),
            std::string::npos);
}

TEST_F(RotatedTrail, AMissingMiddleFileIsNamed) {
  std::vector<std::string> files = files_;
  files.erase(std::find(files.begin(), files.end(), dir_.File("audit.jsonl.2")));
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kMissingFile);
  EXPECT_NE(r.faults[0].message.find("which follows \"audit.jsonl.2\""), std::string::npos) << Describe(r);
  EXPECT_EQ(r.faults[0].where, dir_.File("audit.jsonl.3") + ":1");
}

TEST_F(RotatedTrail, AMissingFirstFileIsAMissingStart) {
  std::vector<std::string> files = files_;
  files.erase(std::find(files.begin(), files.end(), dir_.File("audit.jsonl.1")));
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kMissingStart);
}

TEST_F(RotatedTrail, AMissingLastFileLeavesARotationSealAtTheEnd) {
  std::vector<std::string> files = files_;
  files.erase(std::find(files.begin(), files.end(), dir_.File("audit.jsonl")));
  const AuditVerifyReport r = VerifyAuditTrail(files, TestKey());
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kMissingFile);
  EXPECT_NE(r.faults[0].message.find("ends with a rotation seal"), std::string::npos);
}

TEST_F(RotatedTrail, ARemovedRotationSealIsNamed) {
  std::vector<std::string> lines = ReadLines(dir_.File("audit.jsonl.1"));
  const std::string seal = lines.back();
  lines.pop_back();
  WriteLines(dir_.File("audit.jsonl.1"), lines);
  const AuditVerifyReport r = VerifyAuditTrail(files_, TestKey());
  ASSERT_EQ(r.faults.size(), 1u) << Describe(r);
  EXPECT_EQ(r.faults[0].kind, AuditFaultKind::kRemoved);
  EXPECT_NE(r.faults[0].message.find("removed between the end of " + dir_.File("audit.jsonl.1")),
            std::string::npos)
      << Describe(r);
}

TEST(AuditVerify, ALiveTrailIsOkWithLive) {
  TempDir dir;
  AuditFileSinkOptions options;
  options.path = dir.File("audit.jsonl");
  auto sink = AuditFileSink::Open(options, TestKey());
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Append(TestStatement(1)).ok());
  const AuditVerifyReport open = VerifyAuditTrail({options.path}, TestKey());
  ASSERT_EQ(open.faults.size(), 1u) << Describe(open);
  EXPECT_EQ(open.faults[0].kind, AuditFaultKind::kTruncated);
  const AuditVerifyReport live = VerifyAuditTrail({options.path}, TestKey(), {.live = true});
  EXPECT_TRUE(live.ok()) << Describe(live);
  EXPECT_FALSE(live.sealed);
  ASSERT_EQ(live.notes.size(), 1u);
  EXPECT_NE(live.notes[0].find("the trail is open"), std::string::npos);
}

}  // namespace
}  // namespace pgmask::proxy
