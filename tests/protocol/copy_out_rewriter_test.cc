#include "protocol/copy_out_rewriter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include "tests/hex.h"

namespace pgmask::protocol {
namespace {

using pgmask::testing::FromHex;

CopyOptions Options(CopyFormat format, bool header = false) {
  CopyOptions options = CopyOptions::ForFormat(format);
  options.header = header;
  return options;
}
CopyOptions CsvForceQuote(std::vector<size_t> columns) {
  CopyOptions options = CopyOptions::ForFormat(CopyFormat::kCsv);
  options.force_quote_columns = std::move(columns);
  return options;
}
CopyOptions CsvNull(std::string null_string) {
  CopyOptions options = CopyOptions::ForFormat(CopyFormat::kCsv);
  options.null_string = std::move(null_string);
  return options;
}

// Column 1 masked to "***" (text) or the bytes "MASK" (binary), NULL stays NULL.
FieldReplacement MaskColumnOne(size_t column, std::optional<std::string_view> value) {
  if (column != 1 || !value) return FieldReplacement::Keep();
  return FieldReplacement::Value("***");
}

struct StreamCase {
  std::string name;
  CopyOptions options;
  size_t columns;
  std::vector<std::string> messages;  // CopyData payloads as the server sent them
  std::string expected;               // all rewritten payloads concatenated
  uint64_t rows;
};

// PostgreSQL 15's binary COPY of (1, 'ab', NULL), (2, '', 'x'): the header rides with the first
// tuple, the trailer comes alone.
const std::string kBinaryHeader = FromHex("5047434f50590aff0d0a00" "00000000" "00000000");
const std::string kTuple1 = FromHex("0003" "00000004" "00000001" "00000002" "6162" "ffffffff");
const std::string kTuple2 = FromHex("0003" "00000004" "00000002" "00000000" "00000001" "78");
const std::string kTrailer = FromHex("ffff");
const std::string kMasked1 = FromHex("0003" "00000004" "00000001" "00000003" "2a2a2a" "ffffffff");
const std::string kMasked2 = FromHex("0003" "00000004" "00000002" "00000003" "2a2a2a" "00000001" "78");

const StreamCase kStreams[] = {
    {"Text", Options(CopyFormat::kText), 3, {"1\tsecret\t1.5\n", "2\t\\N\tx\n", "3\ta\\tb\t\\N\n"},
     "1\t***\t1.5\n2\t\\N\tx\n3\t***\t\\N\n", 3},
    {"TextHeaderPassesThrough", Options(CopyFormat::kText, true), 2, {"id\tsecret\n", "1\tabc\n"},
     "id\tsecret\n1\t***\n", 1},
    // The masked field is quoted for its own value only: the server quoted "a,b" and "multi\nline"
    // for what the clear values hold.
    {"CsvHeaderPassesThrough", Options(CopyFormat::kCsv, true), 2, {"id,\"se,cret\"\n", "1,\"a,b\"\n", "2,\n"},
     "id,\"se,cret\"\n1,***\n2,\n", 2},
    {"CsvRowSplitAcrossMessages", Options(CopyFormat::kCsv), 2, {"1,\"multi", "\nline\"\n2,", "x\n"},
     "1,***\n2,***\n", 2},
    {"CsvClearEqualToNullString", CsvNull("secret"), 2, {"1,\"secret\"\n", "2,other\n", "3,secret\n"},
     "1,***\n2,***\n3,secret\n", 3},
    {"CsvForceQuoteMaskedColumn", CsvForceQuote({1}), 2, {"1,\"a,b\"\n", "2,\"ab\"\n", "3,\n"},
     "1,\"***\"\n2,\"***\"\n3,\n", 3},
    {"CsvForceQuoteOtherColumn", CsvForceQuote({0}), 2, {"\"1\",\"a,b\"\n", "\"2\",ab\n"},
     "\"1\",***\n\"2\",***\n", 2},
    {"TextRowSplitAtBackslash", Options(CopyFormat::kText), 2, {"1\ta\\", "nb\n"}, "1\t***\n", 1},
    {"TextSeveralRowsInOneMessage", Options(CopyFormat::kText), 2, {"1\ta\n2\tb\n"}, "1\t***\n2\t***\n", 2},
    {"TextNoRows", Options(CopyFormat::kText), 2, {}, "", 0},
    {"TextNoColumns", Options(CopyFormat::kText), 0, {"\n", "\n"}, "\n\n", 2},
    {"Binary", Options(CopyFormat::kBinary), 3, {kBinaryHeader + kTuple1, kTuple2, kTrailer},
     kBinaryHeader + kMasked1 + kMasked2 + kTrailer, 2},
    {"BinaryNoRows", Options(CopyFormat::kBinary), 3, {kBinaryHeader + kTrailer}, kBinaryHeader + kTrailer, 0},
    {"BinaryByteByByte", Options(CopyFormat::kBinary), 3, {}, kBinaryHeader + kMasked1 + kTrailer, 1},
};

class CopyOutStreamTest : public ::testing::TestWithParam<StreamCase> {};

TEST_P(CopyOutStreamTest, Rewrites) {
  const StreamCase& c = GetParam();
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(c.options, c.columns);
  ASSERT_TRUE(rewriter.ok()) << rewriter.status();
  std::vector<std::string> messages = c.messages;
  if (c.name == "BinaryByteByByte") {
    for (const char byte : kBinaryHeader + kTuple1 + kTrailer) messages.emplace_back(1, byte);
  }
  std::string all;
  std::string out;
  for (const std::string& message : messages) {
    const absl::Status status = rewriter->Rewrite(message, MaskColumnOne, out);
    ASSERT_TRUE(status.ok()) << status;
    all += out;
  }
  EXPECT_EQ(all, c.expected);
  EXPECT_TRUE(rewriter->Finish().ok()) << rewriter->Finish();
  EXPECT_EQ(rewriter->rows(), c.rows);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyOutStreamTest, ::testing::ValuesIn(kStreams),
                         [](const ::testing::TestParamInfo<StreamCase>& info) { return info.param.name; });

TEST(CopyOutRewriterTest, OneMessagePerRowGivesOneRowPerMessage) {
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(Options(CopyFormat::kText), 2);
  ASSERT_TRUE(rewriter.ok());
  std::string out;
  ASSERT_TRUE(rewriter->Rewrite("1\tx\n", MaskColumnOne, out).ok());
  EXPECT_EQ(out, "1\t***\n");
  ASSERT_TRUE(rewriter->Rewrite("2\ty", MaskColumnOne, out).ok());
  EXPECT_EQ(out, "");  // nothing to send yet
  EXPECT_FALSE(rewriter->Finish().ok());
  ASSERT_TRUE(rewriter->Rewrite("\n", MaskColumnOne, out).ok());
  EXPECT_EQ(out, "2\t***\n");
  EXPECT_TRUE(rewriter->Finish().ok());
}

TEST(CopyOutRewriterTest, UntouchedStreamIsIdentical) {
  const std::string data =
      "1\tplain\t1.5\n2\ttab\\there\t\\N\n3\tnew\\nline\\r\\b\\fv\t0\n4\tback\\\\slash\t-2\n";
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(Options(CopyFormat::kText), 3);
  ASSERT_TRUE(rewriter.ok());
  std::string out;
  ASSERT_TRUE(
      rewriter->Rewrite(data, [](size_t, std::optional<std::string_view>) { return FieldReplacement::Keep(); }, out)
          .ok());
  EXPECT_EQ(out, data);
}

struct ErrorCase {
  std::string name;
  CopyOptions options;
  size_t columns;
  std::vector<std::string> messages;
  bool finish_fails = false;  // the messages are accepted but CopyDone comes too early
};

const ErrorCase kErrors[] = {
    {"TextTooFewFields", Options(CopyFormat::kText), 3, {"1\tx\n"}},
    {"TextTooManyFields", Options(CopyFormat::kText), 1, {"1\tx\n"}},
    {"CsvHeaderWrongWidth", Options(CopyFormat::kCsv, true), 2, {"a,b,c\n"}},
    {"NoColumnsButData", Options(CopyFormat::kText), 0, {"x\n"}},
    {"BinaryTooFewFields", Options(CopyFormat::kBinary), 4, {kBinaryHeader + kTuple1}},
    {"BinaryWithoutHeader", Options(CopyFormat::kBinary), 3, {kTuple1}},
    {"BinaryTextData", Options(CopyFormat::kBinary), 2, {"1\tx\n"}},
    {"BinaryDataAfterTrailer", Options(CopyFormat::kBinary), 3, {kBinaryHeader + kTrailer, kTuple1}},
    {"BinaryNegativeLength", Options(CopyFormat::kBinary), 1, {kBinaryHeader + FromHex("0001fffffff0")}},
    {"BinaryMissingTrailer", Options(CopyFormat::kBinary), 3, {kBinaryHeader + kTuple1}, true},
    {"BinaryEndsInsideTuple", Options(CopyFormat::kBinary), 3, {kBinaryHeader + kTuple1.substr(0, 7)}, true},
    {"TextEndsInsideRow", Options(CopyFormat::kText), 2, {"1\tab"}, true},
    {"CsvEndsInsideQuote", Options(CopyFormat::kCsv), 2, {"1,\"ab\n"}, true},
};

class CopyOutErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CopyOutErrorTest, FailsClosed) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(c.options, c.columns);
  ASSERT_TRUE(rewriter.ok()) << rewriter.status();
  absl::Status status;
  std::string out;
  for (const std::string& message : c.messages) {
    status = rewriter->Rewrite(message, MaskColumnOne, out);
    if (!status.ok()) break;
  }
  if (c.finish_fails) {
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_FALSE(rewriter->Finish().ok());
  } else {
    EXPECT_FALSE(status.ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyOutErrorTest, ::testing::ValuesIn(kErrors),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(CopyOutRewriterTest, PartialRowIsCapped) {
  absl::StatusOr<CopyOutRewriter> rewriter = CopyOutRewriter::Create(Options(CopyFormat::kText), 1, 8);
  ASSERT_TRUE(rewriter.ok());
  std::string out;
  EXPECT_TRUE(rewriter->Rewrite("12345678", MaskColumnOne, out).ok());
  EXPECT_FALSE(rewriter->Rewrite("9", MaskColumnOne, out).ok());
}

TEST(CopyOutRewriterTest, InvalidOptionsAreRefused) {
  CopyOptions options = Options(CopyFormat::kText);
  options.delimiter = '\\';
  EXPECT_FALSE(CopyOutRewriter::Create(options, 1).ok());
}

// Found by fuzz_copy_out. With COPY ... (NULL '\') the server writes a NULL as a lone backslash,
// which escapes the delimiter or newline after it. For (NULL, secret, NULL), (NULL, s2, 'z') of
// columns (clear, masked, clear) the server sends "\\\tsecret\t\\\n\\\ts2\tz\n", which splits as
// one row of three fields: "\\\tsecret" (column 0, kept in clear), "\\\n\\\ts2", "z". Such
// options are refused, so the proxy refuses the COPY instead of leaking the value.
TEST(CopyOutRewriterTest, TextNullEndingInBackslashIsRefused) {
  CopyOptions options = Options(CopyFormat::kText);
  options.null_string = "\\";
  EXPECT_FALSE(CopyOutRewriter::Create(options, 3).ok());
  options.null_string = "\\\\";  // an escaped backslash is self-contained
  EXPECT_TRUE(CopyOutRewriter::Create(options, 3).ok());
}

}  // namespace
}  // namespace pgmask::protocol
