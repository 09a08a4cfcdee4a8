#include "protocol/copy_text.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace pgmask::protocol {
namespace {

using Values = std::vector<std::optional<std::string>>;

CopyOptions Text() { return CopyOptions::ForFormat(CopyFormat::kText); }
CopyOptions Csv() { return CopyOptions::ForFormat(CopyFormat::kCsv); }
CopyOptions With(CopyOptions o, char delimiter, std::string null_string) {
  o.delimiter = delimiter;
  o.null_string = std::move(null_string);
  return o;
}
CopyOptions CsvQuote(char quote, char escape) {
  CopyOptions o = Csv();
  o.quote = quote;
  o.escape = escape;
  return o;
}

Values Decoded(const CopyTextRow& row) {
  Values out;
  for (const CopyTextField& f : row.fields()) {
    out.push_back(f.value ? std::optional<std::string>(std::string(*f.value)) : std::nullopt);
  }
  return out;
}

struct SplitCase {
  std::string name;
  CopyOptions options;
  std::string row;
  Values values;
};

const SplitCase kSplits[] = {
    {"TextPlain", Text(), "1\tplain\t1.5\n", {"1", "plain", "1.5"}},
    {"TextNull", Text(), "6\t\\N\t\\N\n", {"6", std::nullopt, std::nullopt}},
    {"TextEmpty", Text(), "5\t\t3\n", {"5", "", "3"}},
    {"TextOneEmptyColumn", Text(), "\n", {""}},
    {"TextEscapedBackslashN", Text(), "9\t\\\\N\t6\n", {"9", "\\N", "6"}},
    {"TextTab", Text(), "2\ttab\\there\n", {"2", "tab\there"}},
    {"TextControls", Text(), "new\\nline\\r\\b\\f\\v\n", {"new\nline\r\b\f\v"}},
    {"TextBackslash", Text(), "back\\\\slash\n", {"back\\slash"}},
    {"TextOctal", Text(), "\\101\\0\\7\\1234\\377\n", {std::string("A\0\a\x53" "4\xff", 6)}},
    {"TextOctalHighBitsDropped", Text(), "\\777\n", {"\xff"}},
    {"TextHex", Text(), "\\x41\\x4\\x4g\\xg\\X41\n", {"A\x04\x04gxgX41"}},
    {"TextOtherEscapeIsLiteral", Text(), "\\q\\.\\\"\n", {"q.\""}},
    {"TextEscapedDelimiter", Text(), "a\\\tb\tc\n", {"a\tb", "c"}},
    {"TextEscapedNewline", Text(), "a\\\nb\n", {"a\nb"}},
    {"TextRawControlChar", Text(), "\x01" "ctl\t9\n", {"\x01" "ctl", "9"}},
    {"TextUtf8", Text(), "h\xc3\xa9llo\n", {"h\xc3\xa9llo"}},
    {"TextPipe", With(Text(), '|', "\\N"), "10|pipe\\|inside|7\n", {"10", "pipe|inside", "7"}},
    {"TextCustomNull", With(Text(), '\t', "NULL"), "6\tNULL\t\\N\n", {"6", std::nullopt, "N"}},
    {"TextEmptyNull", With(Text(), '\t', ""), "\tx\n", {std::nullopt, "x"}},
    {"TextTrailingCarriageReturnIsData", Text(), "a\r\n", {"a\r"}},
    {"CsvPlain", Csv(), "1,plain,1.5\n", {"1", "plain", "1.5"}},
    {"CsvNullIsUnquotedEmpty", Csv(), "6,,\n", {"6", std::nullopt, std::nullopt}},
    {"CsvQuotedEmptyIsNotNull", Csv(), "5,\"\",3\n", {"5", "", "3"}},
    {"CsvDoubledQuote", Csv(), "7,\"quote\"\"inside\",4\n", {"7", "quote\"inside", "4"}},
    {"CsvDelimiterInside", Csv(), "8,\"comma,inside\",5\n", {"8", "comma,inside", "5"}},
    {"CsvNewlineInside", Csv(), "3,\"new\nline\r\x08\",0\n", {"3", "new\nline\r\x08", "0"}},
    {"CsvBackslashIsData", Csv(), "9,\\N,6\n", {"9", "\\N", "6"}},
    {"CsvQuotedPartOfField", Csv(), "ab\"c,d\"e\n", {"abc,de"}},
    {"CsvOnlyQuotes", Csv(), "\"\"\"\"\n", {"\""}},
    {"CsvQuotedBackslashDot", Csv(), "\"\\.\"\n", {"\\."}},
    {"CsvCustomNull", With(Csv(), '|', "NULL"), "6|NULL|\"NULL\"|\n", {"6", std::nullopt, "NULL", ""}},
    {"CsvPipeQuoted", With(Csv(), '|', "NULL"), "10|\"pipe|inside\"|7\n", {"10", "pipe|inside", "7"}},
    {"CsvCustomQuoteEscape", CsvQuote('\'', '\\'), "x,'it\\'s \"q\" \\\\\\\\'\n", {"x", "it's \"q\" \\\\"}},
    {"CsvEscapeBeforeOtherIsLiteral", CsvQuote('\'', '\\'), "'a\\b'\n", {"a\\b"}},
    {"CsvEscapeOutsideQuotesIsLiteral", CsvQuote('"', '\\'), "a\\\"b\"\n", {"a\\b"}},
};

class CopyTextSplitTest : public testing::TestWithParam<SplitCase> {};

TEST_P(CopyTextSplitTest, DecodesFields) {
  const SplitCase& c = GetParam();
  CopyTextRow row;
  const absl::StatusOr<size_t> length = row.Split(c.options, c.row);
  ASSERT_TRUE(length.ok()) << length.status();
  EXPECT_EQ(*length, c.row.size());
  EXPECT_EQ(Decoded(row), c.values);
}

// Every proper prefix ends inside the row: the splitter asks for more and reads nothing past
// the end (checked by the sanitizer build).
TEST_P(CopyTextSplitTest, EveryPrefixNeedsMore) {
  const SplitCase& c = GetParam();
  CopyTextRow row;
  for (size_t len = 0; len < c.row.size(); ++len) {
    const std::string prefix = c.row.substr(0, len);
    const absl::StatusOr<size_t> length = row.Split(c.options, prefix);
    ASSERT_TRUE(length.ok()) << length.status();
    EXPECT_EQ(*length, 0u) << len;
    EXPECT_TRUE(row.fields().empty());
  }
}

// Re-encoding every field from its decoded value gives back the row byte for byte.
TEST_P(CopyTextSplitTest, ReencodesIdentically) {
  const SplitCase& c = GetParam();
  CopyTextRow row;
  ASSERT_TRUE(row.Split(c.options, c.row).ok());
  std::string out;
  AppendRewrittenCopyTextRow(c.options, row,
                             [](size_t, std::optional<std::string_view> v) {
                               return v ? FieldReplacement::Value(*v) : FieldReplacement::Null();
                             },
                             out);
  // Escapes the server never writes (octal, hex, \q, a raw CR) come back in its own spelling,
  // and a field quoted only in part comes back quoted as a whole.
  const bool canonical = c.name.find("Octal") == std::string::npos && c.name.find("Hex") == std::string::npos &&
                         c.name != "TextOtherEscapeIsLiteral" && c.name != "TextEscapedNewline" &&
                         c.name != "TextTrailingCarriageReturnIsData" && c.name != "CsvQuotedPartOfField" &&
                         c.name != "CsvEscapeOutsideQuotesIsLiteral" && c.name != "TextCustomNull" &&
                         c.name != "TextEscapedDelimiter" && c.name != "CsvEscapeBeforeOtherIsLiteral";
  if (canonical) {
    EXPECT_EQ(out, c.row);
  }
  CopyTextRow again;
  ASSERT_TRUE(again.Split(c.options, out).ok());
  EXPECT_EQ(Decoded(again), c.values);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyTextSplitTest, testing::ValuesIn(kSplits),
                         [](const testing::TestParamInfo<SplitCase>& info) { return info.param.name; });

struct EncodeCase {
  std::string name;
  CopyOptions options;
  std::optional<std::string> value;
  bool force_quote;
  bool only_column;
  std::string encoded;
};

const EncodeCase kEncodes[] = {
    {"TextNull", Text(), std::nullopt, false, false, "\\N"},
    {"TextCustomNull", With(Text(), '\t', "NULL"), std::nullopt, false, false, "NULL"},
    {"TextControls", Text(), "\b\f\n\r\t\v", false, false, "\\b\\f\\n\\r\\t\\v"},
    {"TextBackslash", Text(), "a\\b", false, false, "a\\\\b"},
    {"TextOtherControlIsRaw", Text(), "\x01\x7f", false, false, "\x01\x7f"},
    {"TextDelimiter", With(Text(), '|', "\\N"), "a|b\tc", false, false, "a\\|b\\tc"},
    {"TextControlDelimiter", With(Text(), '\x01', "\\N"), "a\x01" "b", false, false, "a\\\x01" "b"},
    {"TextBackslashDotAlone", Text(), "\\.", false, true, "\\\\."},
    {"CsvPlain", Csv(), "abc", false, false, "abc"},
    {"CsvNull", Csv(), std::nullopt, true, false, ""},
    {"CsvEmptyMatchesNull", Csv(), "", false, false, "\"\""},
    {"CsvMatchesCustomNull", With(Csv(), ',', "NULL"), "NULL", false, false, "\"NULL\""},
    {"CsvEmptyWithCustomNull", With(Csv(), ',', "NULL"), "", false, false, ""},
    {"CsvQuote", Csv(), "a\"b", false, false, "\"a\"\"b\""},
    {"CsvDelimiter", Csv(), "a,b", false, false, "\"a,b\""},
    {"CsvNewline", Csv(), "a\nb", false, false, "\"a\nb\""},
    {"CsvCarriageReturn", Csv(), "a\rb", false, false, "\"a\rb\""},
    {"CsvTabIsPlain", Csv(), "a\tb", false, false, "a\tb"},
    {"CsvForced", Csv(), "abc", true, false, "\"abc\""},
    {"CsvBackslashDotAlone", Csv(), "\\.", false, true, "\"\\.\""},
    {"CsvBackslashDotWithOthers", Csv(), "\\.", false, false, "\\."},
    {"CsvCustomEscape", CsvQuote('\'', '\\'), "it's \\", false, false, "'it\\'s \\\\'"},
    {"CsvCustomEscapeAloneIsPlain", CsvQuote('\'', '\\'), "a\\b", false, false, "a\\b"},
    {"CsvOtherDelimiter", With(Csv(), '|', ""), "a,b|c", false, false, "\"a,b|c\""},
};

class CopyTextEncodeTest : public testing::TestWithParam<EncodeCase> {};

TEST_P(CopyTextEncodeTest, EncodesLikeTheServer) {
  const EncodeCase& c = GetParam();
  std::string out = "prefix:";
  AppendCopyTextField(c.options, c.value, c.force_quote, c.only_column, out);
  EXPECT_EQ(out, "prefix:" + c.encoded);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyTextEncodeTest, testing::ValuesIn(kEncodes),
                         [](const testing::TestParamInfo<EncodeCase>& info) { return info.param.name; });

// Whole COPY TO STDOUT outputs of PostgreSQL 15 for one table holding the awkward values (tab,
// newline, backslash, empty, NULL, quote, comma, "\N", pipe, "NULL", a control character,
// UTF-8), under the option sets a user can pick.
struct StreamCase {
  std::string name;
  CopyOptions options;
  std::string data;
};

CopyOptions Header(CopyOptions o) {
  o.header = true;
  return o;
}
CopyOptions ForceQuoteAll(CopyOptions o) {
  o.force_quote_all = true;
  return o;
}
CopyOptions ForceQuote(CopyOptions o, std::vector<size_t> columns) {
  o.force_quote_columns = std::move(columns);
  return o;
}

const StreamCase kStreams[] = {
    {"Text", Text(),
     "1\tplain\t1.5\n2\ttab\\there\t\\N\n3\tnew\\nline\\r\\b\\fv\t0\n4\tback\\\\slash\t-2\n5\t\t3\n"
     "6\t\\N\t\\N\n7\tquote\"inside\t4\n8\tcomma,inside\t5\n9\t\\\\N\t6\n10\tpipe|inside\t7\n"
     "11\tNULL\t8\n12\t\x01" "ctl\t9\n13\th\xc3\xa9llo \xc3\xbcn\xc3\xaf\t10\n"},
    {"Csv", Csv(),
     "1,plain,1.5\n2,tab\there,\n3,\"new\nline\r\x08\x0cv\",0\n4,back\\slash,-2\n5,\"\",3\n6,,\n"
     "7,\"quote\"\"inside\",4\n8,\"comma,inside\",5\n9,\\N,6\n10,pipe|inside,7\n11,NULL,8\n"
     "12,\x01" "ctl,9\n13,h\xc3\xa9llo \xc3\xbcn\xc3\xaf,10\n"},
    {"CsvHeader", Header(Csv()), "id,s,n\n1,plain,1.5\n2,tab\there,\n5,\"\",3\n"},
    {"TextHeader", Header(Text()), "id\ts\tn\n1\tplain\t1.5\n2\ttab\\there\t\\N\n"},
    {"TextPipe", With(Text(), '|', "\\N"),
     "1|plain|1.5\n2|tab\\there|\\N\n3|new\\nline\\r\\b\\fv|0\n4|back\\\\slash|-2\n5||3\n6|\\N|\\N\n"
     "10|pipe\\|inside|7\n"},
    {"CsvPipeNullWord", With(Csv(), '|', "NULL"),
     "1|plain|1.5\n2|tab\there|NULL\n3|\"new\nline\r\x08\x0cv\"|0\n5||3\n6|NULL|NULL\n"
     "7|\"quote\"\"inside\"|4\n10|\"pipe|inside\"|7\n11|\"NULL\"|8\n"},
    {"CsvQuoteEscape", CsvQuote('\'', '\\'),
     "2,tab\there,\n3,'new\nline\r\x08\x0cv',0\n4,back\\slash,-2\n5,'',3\n7,quote\"inside,4\n"
     "8,'comma,inside',5\n"},
    {"CsvForceQuote", ForceQuoteAll(Csv()),
     "\"1\",\"plain\",\"1.5\"\n\"2\",\"tab\there\",\n\"5\",\"\",\"3\"\n\"6\",,\n"
     "\"7\",\"quote\"\"inside\",\"4\"\n"},
    {"CsvHeaderNeedsQuotes", Header(Csv()), "\"we,ird\",\"q\"\"t\"\n\"a,b\",1\n"},
};

class CopyTextStreamTest : public testing::TestWithParam<StreamCase> {};

// Split row by row, every field re-encoded from its decoded value: the server's bytes again.
TEST_P(CopyTextStreamTest, RoundTripsByteForByte) {
  const StreamCase& c = GetParam();
  CopyTextRow row;
  std::string out;
  std::string_view rest = c.data;
  while (!rest.empty()) {
    const absl::StatusOr<size_t> length = row.Split(c.options, rest);
    ASSERT_TRUE(length.ok()) << length.status();
    ASSERT_GT(*length, 0u) << rest;
    EXPECT_EQ(row.fields().size(), c.name == "CsvHeaderNeedsQuotes" ? 2u : 3u);
    AppendRewrittenCopyTextRow(c.options, row,
                               [](size_t, std::optional<std::string_view> v) {
                                 return v ? FieldReplacement::Value(*v) : FieldReplacement::Null();
                               },
                               out);
    rest.remove_prefix(*length);
  }
  EXPECT_EQ(out, c.data);
}

INSTANTIATE_TEST_SUITE_P(PostgresOutput, CopyTextStreamTest, testing::ValuesIn(kStreams),
                         [](const testing::TestParamInfo<StreamCase>& info) { return info.param.name; });

TEST(CopyTextTest, ReplacesAndNullsFields) {
  CopyTextRow row;
  const std::string in = "7,\"quote\"\"inside\",4\n";
  ASSERT_TRUE(row.Split(Csv(), in).ok());
  std::string out;
  std::vector<size_t> seen;
  AppendRewrittenCopyTextRow(Csv(), row,
                             [&](size_t column, std::optional<std::string_view>) {
                               seen.push_back(column);
                               if (column == 1) return FieldReplacement::Value("x,y");
                               if (column == 2) return FieldReplacement::Null();
                               return FieldReplacement::Keep();
                             },
                             out);
  EXPECT_EQ(out, "7,\"x,y\",\n");
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2}));
}

// A replaced CSV field is written as the server would write its new value: the server's quoting
// of the clear value (it held the delimiter, the quote, a newline, or equalled the NULL string)
// must not show through. Each case's rows differ only in column 1, quoted by the server in the
// first row and not in the second; replaced, both rows come out the same.
struct QuotingCase {
  std::string name;
  CopyOptions options;
  std::string quoted_row;    // the clear value in column 1 needed quotes
  std::string unquoted_row;  // it did not
  std::string replacement;
  std::string expected;      // both rows, column 1 replaced
};

const QuotingCase kQuotings[] = {
    // COPY ... (FORMAT csv, NULL '919-27-3645'): quoted only because it equals the NULL string.
    {"ClearEqualsNullString", With(Csv(), ',', "919-27-3645"), "90001,\"919-27-3645\"\n",
     "90001,123-45-3645\n", "XXX-XX-3645", "90001,XXX-XX-3645\n"},
    // DELIMITER '7': quoted because the clear value holds a 7.
    {"ClearHoldsDelimiter", With(Csv(), '7', ""), "17\"919-27-3645\"\n", "17123-45-3645\n", "XXX-XX-3645",
     "17XXX-XX-3645\n"},
    // QUOTE '2', DELIMITER '|': quoted (and the 2s doubled) because the clear value holds a 2.
    {"ClearHoldsQuote", With(CsvQuote('2', '2'), '|', ""), "1|2919-227-36452\n", "1|133-45-3645\n",
     "XXX-XX-3645", "1|XXX-XX-3645\n"},
    {"ClearHoldsEscapedQuote", With(CsvQuote('\'', '\\'), '|', ""), "1|'it\\'s'\n", "1|its\n", "XXX",
     "1|XXX\n"},
    {"ClearHoldsNewline", Csv(), "1,\"a\nb\"\n", "1,ab\n", "XXX", "1,XXX\n"},
    {"ClearHoldsCarriageReturn", Csv(), "1,\"a\rb\"\n", "1,ab\n", "XXX", "1,XXX\n"},
    {"ClearIsEmpty", Csv(), "1,\"\"\n", "1,x\n", "XXX", "1,XXX\n"},
    {"ClearQuotedInPart", Csv(), "1,a\"b,c\"d\n", "1,abcd\n", "XXX", "1,XXX\n"},
    // The replacement is quoted for what it holds itself, in both rows alike.
    {"ReplacementHoldsDelimiter", With(Csv(), '7', ""), "17\"919-27-3645\"\n", "17123-45-3645\n", "XXX-XX-7",
     "17\"XXX-XX-7\"\n"},
    {"ReplacementEqualsNullString", With(Csv(), ',', "***"), "1,\"***\"\n", "1,abc\n", "***", "1,\"***\"\n"},
    // FORCE_QUOTE (of the statement) quotes the replacement in both rows alike.
    {"ForceQuoteAll", ForceQuoteAll(Csv()), "\"1\",\"a,b\"\n", "\"1\",\"ab\"\n", "XXX", "\"1\",\"XXX\"\n"},
    {"ForceQuoteThisColumn", ForceQuote(Csv(), {1}), "1,\"a,b\"\n", "1,\"ab\"\n", "XXX", "1,\"XXX\"\n"},
    {"ForceQuoteOtherColumn", ForceQuote(Csv(), {0}), "\"1\",\"a,b\"\n", "\"1\",ab\n", "XXX", "\"1\",XXX\n"},
};

class CopyTextQuotingTest : public testing::TestWithParam<QuotingCase> {};

TEST_P(CopyTextQuotingTest, ReplacementIsQuotedByItsOwnValue) {
  const QuotingCase& c = GetParam();
  ASSERT_TRUE(ValidateCopyOptions(c.options).ok());
  for (const std::string& in : {c.quoted_row, c.unquoted_row}) {
    CopyTextRow row;
    const absl::StatusOr<size_t> length = row.Split(c.options, in);
    ASSERT_TRUE(length.ok()) << length.status();
    ASSERT_EQ(*length, in.size()) << in;
    ASSERT_EQ(row.fields().size(), 2u) << in;
    std::string out;
    AppendRewrittenCopyTextRow(c.options, row,
                               [&c](size_t column, std::optional<std::string_view>) {
                                 return column == 1 ? FieldReplacement::Value(c.replacement)
                                                    : FieldReplacement::Keep();
                               },
                               out);
    EXPECT_EQ(out, c.expected) << in;
  }
  // The server quoted the clear value of the first row and not of the second.
  CopyTextRow quoted;
  ASSERT_TRUE(quoted.Split(c.options, c.quoted_row).ok());
  EXPECT_TRUE(quoted.fields()[1].quoted);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyTextQuotingTest, testing::ValuesIn(kQuotings),
                         [](const testing::TestParamInfo<QuotingCase>& info) { return info.param.name; });

// Masked to NULL, a field is the NULL string, unquoted, whatever the server did with the clear
// value and under FORCE_QUOTE (which never quotes NULL).
TEST(CopyTextTest, NullReplacementIsTheBareNullString) {
  for (const CopyOptions& options : {With(Csv(), ',', "919-27-3645"), ForceQuoteAll(With(Csv(), ',', "N"))}) {
    for (const std::string in : {"1,\"919-27-3645\"\n", "1,abc\n"}) {
      CopyTextRow row;
      ASSERT_TRUE(row.Split(options, in).ok());
      std::string out;
      AppendRewrittenCopyTextRow(options, row,
                                 [](size_t column, std::optional<std::string_view>) {
                                   return column == 1 ? FieldReplacement::Null() : FieldReplacement::Keep();
                                 },
                                 out);
      EXPECT_EQ(out, "1," + options.null_string + "\n") << in;
    }
  }
}

// A field that is kept is the server's bytes, quoting and all, with or without FORCE_QUOTE.
TEST(CopyTextTest, KeptFieldsAreTheServersBytes) {
  const std::string in = "\"1\",1,a\"b,c\"d,\"\",,\"x\"\"y\"\n";
  for (const CopyOptions& options : {Csv(), ForceQuoteAll(Csv()), ForceQuote(Csv(), {1, 2})}) {
    CopyTextRow row;
    ASSERT_TRUE(row.Split(options, in).ok());
    std::string out;
    AppendRewrittenCopyTextRow(options, row,
                               [](size_t, std::optional<std::string_view>) { return FieldReplacement::Keep(); },
                               out);
    EXPECT_EQ(out, in);
  }
}

TEST(CopyTextTest, ForceQuoteCoversItsColumnsInCsvOnly) {
  EXPECT_FALSE(Csv().ForceQuote(0));
  EXPECT_TRUE(ForceQuoteAll(Csv()).ForceQuote(5));
  const CopyOptions some = ForceQuote(Csv(), {0, 2});
  EXPECT_TRUE(some.ForceQuote(0));
  EXPECT_FALSE(some.ForceQuote(1));
  EXPECT_TRUE(some.ForceQuote(2));
  EXPECT_FALSE(ForceQuoteAll(Text()).ForceQuote(0));
}

TEST(CopyTextTest, SplitsOnlyTheFirstRow) {
  CopyTextRow row;
  const absl::StatusOr<size_t> length = row.Split(Text(), "a\tb\nc\td\n");
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 4u);
  EXPECT_EQ(Decoded(row), (Values{"a", "b"}));
}

TEST(CopyTextTest, UnterminatedQuoteNeedsMore) {
  CopyTextRow row;
  const absl::StatusOr<size_t> length = row.Split(Csv(), "1,\"abc\n2,def\n");
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 0u);
}

TEST(CopyTextTest, BinaryOptionsAreRefused) {
  CopyTextRow row;
  EXPECT_FALSE(row.Split(CopyOptions::ForFormat(CopyFormat::kBinary), "a\n").ok());
}

// Arbitrary bytes never make the splitter read out of bounds; whatever it accepts re-encodes
// to something that splits to the same values.
TEST(CopyTextTest, GarbageIsHandled) {
  const std::string garbage[] = {
      std::string("\\\\\\", 3), std::string("\"\"\"\n", 4), std::string("\x00\xff\\x\n", 5),
      std::string("\\", 1), "a\\", "\"a\"\"", "\\7\n", "\\x\n", "\\xf\n", ",,,\n", "\"\n\"\n",
  };
  for (const CopyOptions& options : {Text(), Csv(), CsvQuote('\'', '\\')}) {
    for (const std::string& g : garbage) {
      CopyTextRow row;
      const absl::StatusOr<size_t> length = row.Split(options, g);
      ASSERT_TRUE(length.ok());
      if (*length == 0) continue;
      std::string out;
      AppendRewrittenCopyTextRow(options, row,
                                 [](size_t, std::optional<std::string_view> v) {
                                   return v ? FieldReplacement::Value(*v) : FieldReplacement::Null();
                                 },
                                 out);
      const Values before = Decoded(row);
      CopyTextRow again;
      ASSERT_TRUE(again.Split(options, out).ok());
      EXPECT_EQ(Decoded(again), before) << g;
    }
  }
}

struct OptionsCase {
  std::string name;
  CopyOptions options;
  bool valid;
};

const OptionsCase kOptions[] = {
    {"TextDefaults", Text(), true},
    {"CsvDefaults", Csv(), true},
    {"BinaryDefaults", CopyOptions::ForFormat(CopyFormat::kBinary), true},
    {"BinaryHeader", Header(CopyOptions::ForFormat(CopyFormat::kBinary)), false},
    {"TextBackslashDelimiter", With(Text(), '\\', "\\N"), false},
    {"TextDigitDelimiter", With(Text(), '1', "\\N"), false},
    {"TextLetterDelimiter", With(Text(), 'a', "\\N"), false},
    {"TextUpperLetterDelimiter", With(Text(), 'A', "\\N"), true},
    {"NewlineDelimiter", With(Csv(), '\n', ""), false},
    {"CarriageReturnDelimiter", With(Text(), '\r', "\\N"), false},
    {"NullWithNewline", With(Text(), '\t', "a\nb"), false},
    {"DelimiterInNull", With(Text(), '|', "a|b"), false},
    {"CsvDelimiterIsQuote", With(Csv(), '"', ""), false},
    {"CsvQuoteInNull", With(Csv(), ',', "\"N\""), false},
    {"CsvDigitDelimiter", With(Csv(), '1', ""), true},
    // Stricter than the server (found by fuzz_copy_out): a text NULL string ending in a lone
    // backslash escapes the separator after it.
    {"TextNullIsBackslash", With(Text(), '\t', "\\"), false},
    {"TextNullEndsInBackslash", With(Text(), '\t', "N\\"), false},
    {"TextNullEndsInThreeBackslashes", With(Text(), '\t', "\\\\\\"), false},
    {"TextNullEndsInEscapedBackslash", With(Text(), '\t', "\\\\"), true},
    {"CsvNullIsBackslash", With(Csv(), ',', "\\"), true},
    {"CsvForceQuote", ForceQuote(ForceQuoteAll(Csv()), {0}), true},
    {"TextForceQuoteAll", ForceQuoteAll(Text()), false},
    {"TextForceQuoteColumns", ForceQuote(Text(), {0}), false},
    {"BinaryForceQuote", ForceQuoteAll(CopyOptions::ForFormat(CopyFormat::kBinary)), false},
};

class CopyOptionsTest : public testing::TestWithParam<OptionsCase> {};

TEST_P(CopyOptionsTest, ValidatesLikeTheServer) {
  const OptionsCase& c = GetParam();
  EXPECT_EQ(ValidateCopyOptions(c.options).ok(), c.valid);
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyOptionsTest, testing::ValuesIn(kOptions),
                         [](const testing::TestParamInfo<OptionsCase>& info) { return info.param.name; });

}  // namespace
}  // namespace pgmask::protocol
