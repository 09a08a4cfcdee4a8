#include "protocol/copy_binary.h"

#include <gtest/gtest.h>

#include <string>
#include "tests/hex.h"

namespace pgmask::protocol {
namespace {

using pgmask::testing::FromHex;

// COPY (SELECT 1::int, 'ab'::text, NULL::text UNION ALL SELECT 2, '', 'x') TO STDOUT
// (FORMAT binary) from PostgreSQL 15: header, two tuples, trailer.
const std::string kHeader = FromHex("5047434f50590aff0d0a00" "00000000" "00000000");
const std::string kTuple1 = FromHex("0003" "00000004" "00000001" "00000002" "6162" "ffffffff");
const std::string kTuple2 = FromHex("0003" "00000004" "00000002" "00000000" "00000001" "78");
const std::string kTrailer = FromHex("ffff");

TEST(CopyBinaryTest, ParsesServerHeader) {
  const absl::StatusOr<size_t> length = ParseCopyBinaryHeader(kHeader + kTuple1);
  ASSERT_TRUE(length.ok()) << length.status();
  EXPECT_EQ(*length, kCopyBinaryHeaderSize);
  std::string written;
  AppendCopyBinaryHeader(written);
  EXPECT_EQ(written, kHeader);
}

TEST(CopyBinaryTest, EveryHeaderPrefixNeedsMore) {
  for (size_t len = 0; len < kHeader.size(); ++len) {
    const absl::StatusOr<size_t> length = ParseCopyBinaryHeader(kHeader.substr(0, len));
    ASSERT_TRUE(length.ok()) << len;
    EXPECT_EQ(*length, 0u) << len;
  }
}

struct HeaderCase {
  std::string name;
  std::string data;
  std::optional<size_t> length;  // std::nullopt: refused
};

const HeaderCase kHeaders[] = {
    {"WithExtension", FromHex("5047434f50590aff0d0a00" "00000000" "00000003" "616263"), 22},
    {"ExtensionNotYetThere", FromHex("5047434f50590aff0d0a00" "00000000" "00000003" "6162"), 0},
    {"NonCriticalFlag", FromHex("5047434f50590aff0d0a00" "00000001" "00000000"), 19},
    {"OidsFlag", FromHex("5047434f50590aff0d0a00" "00010000" "00000000"), std::nullopt},
    {"CriticalFlag", FromHex("5047434f50590aff0d0a00" "80000000" "00000000"), std::nullopt},
    {"NegativeExtension", FromHex("5047434f50590aff0d0a00" "00000000" "ffffffff"), std::nullopt},
    {"WrongSignature", FromHex("5047434f50590aff0d0a01" "00000000" "00000000"), std::nullopt},
    {"TextData", "1\tabc\n", std::nullopt},
    {"WrongFirstByte", "X", std::nullopt},
};

class CopyBinaryHeaderTest : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(CopyBinaryHeaderTest, Parses) {
  const HeaderCase& c = GetParam();
  const absl::StatusOr<size_t> length = ParseCopyBinaryHeader(c.data);
  ASSERT_EQ(length.ok(), c.length.has_value()) << length.status();
  if (c.length) {
    EXPECT_EQ(*length, *c.length);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyBinaryHeaderTest, ::testing::ValuesIn(kHeaders),
                         [](const ::testing::TestParamInfo<HeaderCase>& info) { return info.param.name; });

TEST(CopyBinaryTest, ReadsServerTuplesAndTrailer) {
  const std::string data = kTuple1 + kTuple2 + kTrailer;
  CopyBinaryTuple tuple;
  absl::StatusOr<size_t> length = tuple.Read(data);
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, kTuple1.size());
  ASSERT_EQ(tuple.fields().size(), 3u);
  EXPECT_EQ(*tuple.fields()[0], FromHex("00000001"));
  EXPECT_EQ(*tuple.fields()[1], "ab");
  EXPECT_FALSE(tuple.fields()[2].has_value());
  EXPECT_FALSE(tuple.is_trailer());

  length = tuple.Read(std::string_view(data).substr(kTuple1.size()));
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, kTuple2.size());
  EXPECT_EQ(*tuple.fields()[1], "");
  EXPECT_EQ(*tuple.fields()[2], "x");

  length = tuple.Read(kTrailer);
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 2u);
  EXPECT_TRUE(tuple.is_trailer());
  EXPECT_TRUE(tuple.fields().empty());
  std::string written;
  AppendCopyBinaryTrailer(written);
  EXPECT_EQ(written, kTrailer);
}

TEST(CopyBinaryTest, EveryTuplePrefixNeedsMore) {
  for (const std::string& whole : {kTuple1, kTuple2, kTrailer}) {
    for (size_t len = 0; len < whole.size(); ++len) {
      CopyBinaryTuple tuple;
      const absl::StatusOr<size_t> length = tuple.Read(whole.substr(0, len));
      ASSERT_TRUE(length.ok()) << len;
      EXPECT_EQ(*length, 0u) << len;
      EXPECT_TRUE(tuple.fields().empty());
    }
  }
}

struct BadTupleCase {
  std::string name;
  std::string data;
};

const BadTupleCase kBadTuples[] = {
    {"NegativeCount", FromHex("fffe")},
    {"MinCount", FromHex("8000")},
    {"NegativeLength", FromHex("0001" "fffffffe")},
    {"MinLength", FromHex("0001" "80000000")},
    {"OverOneGigabyte", FromHex("0001" "40000001")},
};

class CopyBinaryBadTupleTest : public ::testing::TestWithParam<BadTupleCase> {};

TEST_P(CopyBinaryBadTupleTest, IsRefused) {
  CopyBinaryTuple tuple;
  EXPECT_FALSE(tuple.Read(GetParam().data).ok());
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyBinaryBadTupleTest, ::testing::ValuesIn(kBadTuples),
                         [](const ::testing::TestParamInfo<BadTupleCase>& info) { return info.param.name; });

TEST(CopyBinaryTest, LengthBeyondDataNeedsMore) {
  CopyBinaryTuple tuple;
  const absl::StatusOr<size_t> length = tuple.Read(FromHex("0001" "3fffffff" "61"));
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 0u);
}

TEST(CopyBinaryTest, ZeroFieldTuple) {
  CopyBinaryTuple tuple;
  const absl::StatusOr<size_t> length = tuple.Read(FromHex("0000"));
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 2u);
  EXPECT_FALSE(tuple.is_trailer());
  EXPECT_TRUE(tuple.fields().empty());
}

struct RewriteCase {
  std::string name;
  FieldReplacement replacement;  // for column 1; the others are kept
  std::string tuple;
};

const RewriteCase kRewrites[] = {
    {"Keep", FieldReplacement::Keep(), kTuple1},
    {"Null", FieldReplacement::Null(), FromHex("0003" "00000004" "00000001" "ffffffff" "ffffffff")},
    {"Value", FieldReplacement::Value("xyz"),
     FromHex("0003" "00000004" "00000001" "00000003" "78797a" "ffffffff")},
    {"EmptyValue", FieldReplacement::Value(""), FromHex("0003" "00000004" "00000001" "00000000" "ffffffff")},
};

class CopyBinaryRewriteTest : public ::testing::TestWithParam<RewriteCase> {};

TEST_P(CopyBinaryRewriteTest, ReplacesColumnOne) {
  const RewriteCase& c = GetParam();
  CopyBinaryTuple tuple;
  ASSERT_TRUE(tuple.Read(kTuple1).ok());
  std::string out;
  const absl::Status status = AppendRewrittenCopyBinaryTuple(
      tuple,
      [&](size_t column, std::optional<std::string_view>) {
        return column == 1 ? c.replacement : FieldReplacement::Keep();
      },
      out);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(out, c.tuple);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyBinaryRewriteTest, ::testing::ValuesIn(kRewrites),
                         [](const ::testing::TestParamInfo<RewriteCase>& info) { return info.param.name; });

}  // namespace
}  // namespace pgmask::protocol
