#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/protocol/wire_builder.h"

namespace pgmask::protocol {
namespace {

using testing::AsBytes;
using testing::CStr;
using testing::PutU16;
using testing::PutU32;

std::string Field(std::string_view name, uint32_t table, uint16_t column, uint32_t type, uint16_t format) {
  std::string s = CStr(name);
  PutU32(s, table);
  PutU16(s, column);
  PutU32(s, type);
  PutU16(s, 0xffff);  // typlen -1
  PutU32(s, 0xffffffff);
  PutU16(s, format);
  return s;
}

TEST(RowDescription, ParsesFields) {
  std::string body;
  PutU16(body, 2);
  body += Field("ssn", 16384, 2, 25, 0) + Field("?column?", 0, 0, 23, 1);
  std::vector<FieldDescription> fields;
  ASSERT_TRUE(ParseRowDescription(AsBytes(body), fields).ok());
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "ssn");
  EXPECT_EQ(fields[0].table_oid, 16384u);
  EXPECT_EQ(fields[0].column, 2);
  EXPECT_EQ(fields[0].type_oid, 25u);
  EXPECT_EQ(fields[0].type_size, -1);
  EXPECT_EQ(fields[1].format, 1);
}

TEST(RowDescription, RejectsEveryTruncation) {
  std::string body;
  PutU16(body, 1);
  body += Field("ssn", 16384, 2, 25, 0);
  std::vector<FieldDescription> fields;
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_FALSE(ParseRowDescription(AsBytes(std::string_view(body).substr(0, cut)), fields).ok()) << cut;
  }
  EXPECT_FALSE(ParseRowDescription(AsBytes(body + "x"), fields).ok());
}

TEST(DataRow, ParsesValuesAndNulls) {
  std::string body;
  PutU16(body, 3);
  PutU32(body, 3);
  body += "abc";
  PutU32(body, 0xffffffff);
  PutU32(body, 0);
  std::vector<WireValue> values;
  ASSERT_TRUE(ParseDataRow(AsBytes(body), values).ok());
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0].text(), "abc");
  EXPECT_TRUE(values[1].is_null());
  EXPECT_FALSE(values[2].is_null());
  EXPECT_EQ(values[2].text(), "");
}

TEST(DataRow, RejectsBadLengths) {
  std::vector<WireValue> values;
  for (uint32_t bad : {0x7fffffffu, 0xfffffffeu, 4u}) {
    std::string body;
    PutU16(body, 1);
    PutU32(body, bad);
    body += "ab";
    EXPECT_FALSE(ParseDataRow(AsBytes(body), values).ok()) << bad;
  }
  std::string more_fields_than_sent;
  PutU16(more_fields_than_sent, 2);
  PutU32(more_fields_than_sent, 1);
  more_fields_than_sent += "a";
  EXPECT_FALSE(ParseDataRow(AsBytes(more_fields_than_sent), values).ok());
  EXPECT_FALSE(ParseDataRow(AsBytes("\xff\xff"), values).ok());  // negative count
}

TEST(Bind, ParsesAllParts) {
  std::string body = CStr("portal") + CStr("stmt");
  PutU16(body, 1);
  PutU16(body, 1);  // all parameters binary
  PutU16(body, 2);
  PutU32(body, 4);
  body += std::string("\0\0\0\x2a", 4);
  PutU32(body, 0xffffffff);
  PutU16(body, 2);
  PutU16(body, 0);
  PutU16(body, 1);
  auto bind = ParseBind(AsBytes(body));
  ASSERT_TRUE(bind.ok()) << bind.status();
  EXPECT_EQ(bind->portal, "portal");
  EXPECT_EQ(bind->statement, "stmt");
  EXPECT_EQ(bind->parameter_formats.ForColumn(1), 1);
  ASSERT_EQ(bind->parameters.size(), 2u);
  EXPECT_TRUE(bind->parameters[1].is_null());
  EXPECT_EQ(bind->result_formats.ForColumn(0), 0);
  EXPECT_EQ(bind->result_formats.ForColumn(1), 1);
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_FALSE(ParseBind(AsBytes(std::string_view(body).substr(0, cut))).ok()) << cut;
  }
}

TEST(Bind, ReadsFormatCodesPostgreSQLDoesNotCheck) {
  // PostgreSQL checks a parameter's format only when there is a parameter: this Bind is valid.
  std::string body = CStr("") + CStr("");
  PutU16(body, 1);
  PutU16(body, 7);
  PutU16(body, 0);
  PutU16(body, 0);
  auto bind = ParseBind(AsBytes(body));
  ASSERT_TRUE(bind.ok()) << bind.status();
  EXPECT_EQ(bind->parameter_formats.ForColumn(0), 7);
  EXPECT_TRUE(bind->parameters.empty());
}

TEST(Bind, CountsAreUnsignedAsPostgreSQLReadsThem) {
  std::string body = CStr("") + CStr("s");
  PutU16(body, 0);
  PutU16(body, 0x8000);
  for (int i = 0; i < 0x8000; ++i) PutU32(body, 0xffffffff);
  PutU16(body, 0);
  auto bind = ParseBind(AsBytes(body));
  ASSERT_TRUE(bind.ok()) << bind.status();
  EXPECT_EQ(bind->parameters.size(), 0x8000u);
}

TEST(Parse, CountsAreUnsignedAsPostgreSQLReadsThem) {
  std::string body = CStr("s") + CStr("select 1");
  PutU16(body, 0x8000);
  for (int i = 0; i < 0x8000; ++i) PutU32(body, 25);
  auto parse = ParseParse(AsBytes(body));
  ASSERT_TRUE(parse.ok()) << parse.status();
  EXPECT_EQ(parse->parameter_type_count, 0x8000);
  EXPECT_EQ(parse->query, "select 1");
}

TEST(Names, AreCutToTheBytesPostgreSQLTellsApart) {
  const std::string long_name = std::string(63, 'A') + "tail";
  std::string parse = CStr(long_name) + CStr("select 1");
  PutU16(parse, 0);
  ASSERT_TRUE(ParseParse(AsBytes(parse)).ok());
  EXPECT_EQ(ParseParse(AsBytes(parse))->statement, std::string(63, 'A'));
  std::string bind = CStr(long_name + "1") + CStr(long_name + "2");
  PutU16(bind, 0);
  PutU16(bind, 0);
  PutU16(bind, 0);
  auto b = ParseBind(AsBytes(bind));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->portal, std::string(63, 'A'));
  EXPECT_EQ(b->statement, std::string(63, 'A'));
  EXPECT_EQ(ParseDescribeOrClose(AsBytes("S" + CStr(long_name)))->name, std::string(63, 'A'));
  std::string execute = CStr(long_name);
  PutU32(execute, 0);
  EXPECT_EQ(ParseExecute(AsBytes(execute))->portal, std::string(63, 'A'));
  EXPECT_EQ(ParseDescribeOrClose(AsBytes("P" + CStr("short")))->name, "short");
}

TEST(Parse, ParsesNameQueryAndTypes) {
  std::string body = CStr("s1") + CStr("select $1");
  PutU16(body, 1);
  PutU32(body, 23);
  auto parse = ParseParse(AsBytes(body));
  ASSERT_TRUE(parse.ok());
  EXPECT_EQ(parse->statement, "s1");
  EXPECT_EQ(parse->query, "select $1");
  EXPECT_EQ(parse->ParameterType(0), 23u);
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_FALSE(ParseParse(AsBytes(std::string_view(body).substr(0, cut))).ok()) << cut;
  }
}

TEST(DescribeCloseExecute, ParseAndRejectMalformed) {
  const std::string describe = "P" + CStr("portal");
  auto d = ParseDescribeOrClose(AsBytes(describe));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, 'P');
  EXPECT_EQ(d->name, "portal");
  EXPECT_FALSE(ParseDescribeOrClose(AsBytes("X" + CStr("a"))).ok());
  EXPECT_FALSE(ParseDescribeOrClose(AsBytes("S")).ok());
  EXPECT_FALSE(ParseDescribeOrClose(AsBytes("")).ok());
  std::string execute = CStr("");
  PutU32(execute, 10);
  auto e = ParseExecute(AsBytes(execute));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->portal, "");
  EXPECT_EQ(e->max_rows, 10);
  for (size_t cut = 0; cut < execute.size(); ++cut) {
    EXPECT_FALSE(ParseExecute(AsBytes(std::string_view(execute).substr(0, cut))).ok()) << cut;
  }
}

TEST(CopyResponse, ParsesAndRejectsMalformed) {
  std::string body(1, '\1');
  PutU16(body, 2);
  PutU16(body, 1);
  PutU16(body, 1);
  auto r = ParseCopyResponse(AsBytes(body));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->format, 1);
  EXPECT_EQ(r->column_formats, (std::vector<int16_t>{1, 1}));
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_FALSE(ParseCopyResponse(AsBytes(std::string_view(body).substr(0, cut))).ok()) << cut;
  }
  std::string bad_format(1, '\2');
  PutU16(bad_format, 0);
  EXPECT_FALSE(ParseCopyResponse(AsBytes(bad_format)).ok());
}

TEST(Query, NeedsItsTerminatorAndNothingAfter) {
  EXPECT_EQ(*ParseQuery(AsBytes(CStr("select 1"))), "select 1");
  EXPECT_FALSE(ParseQuery(AsBytes("select 1")).ok());
  EXPECT_FALSE(ParseQuery(AsBytes(CStr("a") + "b")).ok());
}

TEST(ErrorNotice, ParsesFields) {
  const std::string body = "SERROR" + std::string(1, '\0') + "VERROR" + std::string(1, '\0') + "C42501" +
                           std::string(1, '\0') + "Mpermission denied" + std::string(2, '\0');
  auto e = ParseErrorNotice(AsBytes(body));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->sqlstate(), "42501");
  EXPECT_EQ(e->severity(), "ERROR");
  EXPECT_EQ(e->message(), "permission denied");
  EXPECT_FALSE(ParseErrorNotice(AsBytes(body.substr(0, body.size() - 1))).ok());
  EXPECT_FALSE(ParseErrorNotice(AsBytes("")).ok());
  EXPECT_FALSE(ParseErrorNotice(AsBytes(std::string("Mno terminator"))).ok());
}

TEST(SmallMessages, ParseAndRejectMalformed) {
  std::string key;
  PutU32(key, 7);
  PutU32(key, 9);
  EXPECT_EQ(*ParseBackendKeyData(AsBytes(key)), (CancelKey{7, 9}));
  EXPECT_FALSE(ParseBackendKeyData(AsBytes(key.substr(0, 7))).ok());
  EXPECT_EQ(*ParseReadyForQuery(AsBytes("T")), 'T');
  EXPECT_FALSE(ParseReadyForQuery(AsBytes("X")).ok());
  EXPECT_FALSE(ParseReadyForQuery(AsBytes("")).ok());
  std::string auth;
  PutU32(auth, 10);
  EXPECT_EQ(*ParseAuthenticationCode(AsBytes(auth)), 10);
  EXPECT_FALSE(ParseAuthenticationCode(AsBytes("ab")).ok());
  const std::string status = CStr("TimeZone") + CStr("UTC");
  auto ps = ParseParameterStatus(AsBytes(status));
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->name, "TimeZone");
  EXPECT_EQ(ps->value, "UTC");
  EXPECT_FALSE(ParseParameterStatus(AsBytes(CStr("TimeZone"))).ok());
}

TEST(Messages, Notification) {
  std::string body;
  PutU32(body, 4242);
  body += CStr("jobs") + CStr("payload 1");
  auto n = ParseNotification(AsBytes(body));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->process_id, 4242);
  EXPECT_EQ(n->channel, "jobs");
  EXPECT_EQ(n->payload, "payload 1");
  // Truncated at every length, and with bytes after the payload.
  for (size_t len = 0; len < body.size(); ++len) {
    EXPECT_FALSE(ParseNotification(AsBytes(body.substr(0, len))).ok()) << len;
  }
  EXPECT_FALSE(ParseNotification(AsBytes(body + "x")).ok());
  EXPECT_FALSE(ParseNotification(AsBytes(body + CStr("extra"))).ok());
}

// Found by fuzz_frontend_frames: a string read from an empty body whose span has no buffer at
// all passed a null pointer to memchr (undefined behaviour, reported by UBSan).
TEST(Messages, EmptyBodyWithoutBuffer) {
  const Bytes empty;
  ASSERT_EQ(empty.data(), nullptr);
  std::vector<FieldDescription> fields;
  std::vector<WireValue> values;
  EXPECT_FALSE(ParseQuery(empty).ok());
  EXPECT_FALSE(ParseBind(empty).ok());
  EXPECT_FALSE(ParseParse(empty).ok());
  EXPECT_FALSE(ParseDescribeOrClose(empty).ok());
  EXPECT_FALSE(ParseExecute(empty).ok());
  EXPECT_FALSE(ParseParameterStatus(empty).ok());
  EXPECT_FALSE(ParseNotification(empty).ok());
  EXPECT_FALSE(ParseErrorNotice(empty).ok());
  EXPECT_FALSE(ParseRowDescription(empty, fields).ok());
  EXPECT_FALSE(ParseDataRow(empty, values).ok());
}

TEST(Messages, RandomGarbageNeverCrashes) {
  std::mt19937 rng(7);
  std::vector<FieldDescription> fields;
  std::vector<WireValue> values;
  for (int i = 0; i < 20000; ++i) {
    std::string body(rng() % 48, '\0');
    for (char& c : body) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    const Bytes b = AsBytes(body);
    (void)ParseRowDescription(b, fields);
    (void)ParseDataRow(b, values);
    (void)ParseBind(b);
    (void)ParseParse(b);
    (void)ParseErrorNotice(b);
    (void)ParseParameterStatus(b);
    (void)ParseNotification(b);
  }
}

}  // namespace
}  // namespace pgmask::protocol
