#include "proxy/log.h"

#include <gtest/gtest.h>

#include <string>

namespace pgmask::proxy {
namespace {

constexpr std::string_view kTime = "2024-01-02T03:04:05.678Z";

struct JsonCase {
  std::string name;
  std::string message;
  std::string line;
};

class JsonLines : public testing::TestWithParam<JsonCase> {};

TEST_P(JsonLines, Formats) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, kTime, LogLevel::kInfo, GetParam().message), GetParam().line);
}

INSTANTIATE_TEST_SUITE_P(
    Log, JsonLines,
    testing::Values(
        JsonCase{.name = "plain_text",
                 .message = "pgmask stopped",
                 .line = R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","msg":"pgmask stopped"})"
                         "\n"},
        JsonCase{.name = "fields_bare_quoted_and_numeric",
                 .message = R"(session=ab12 close reason="client went away" duration_ms=15)",
                 .line = R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","msg":"session=ab12 close reason=\"client went away\" duration_ms=15","session":"ab12","reason":"client went away","duration_ms":15})"
                         "\n"},
        JsonCase{.name = "reserved_and_repeated_keys_are_not_fields",
                 .message = "level=x msg=y a=1 a=2",
                 .line = R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","msg":"level=x msg=y a=1 a=2","a":1})"
                         "\n"},
        JsonCase{.name = "escapes_control_characters_and_invalid_utf8",
                 .message = std::string("user=\"a\\b\"\x01\xff tab\there \xc3\xa9"),
                 .line = R"({"ts":"2024-01-02T03:04:05.678Z","level":"info","msg":"user=\"a\\b\"\u0001\ufffd tab\there é"})"
                         "\n"}),
    [](const testing::TestParamInfo<JsonCase>& info) { return info.param.name; });

TEST(Log, PlainLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kPlain, kTime, LogLevel::kWarn, "x=1"), "2024-01-02T03:04:05.678Z warn x=1\n");
}

TEST(Log, ParsesFormats) {
  LogFormat f = LogFormat::kPlain;
  EXPECT_TRUE(ParseLogFormat("json", f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("plain", f));
  EXPECT_EQ(f, LogFormat::kPlain);
  EXPECT_FALSE(ParseLogFormat("text", f));
}

}  // namespace
}  // namespace pgmask::proxy
