#include "policy/date_time.h"

#include <gtest/gtest.h>

#include <string>

namespace pgmask::policy {
namespace {

struct TimestampCase {
  std::string name;
  std::string text;
  bool with_zone;
  bool valid;
};

const TimestampCase kCases[] = {
    {"Plain", "1987-06-15 10:30:00", false, true},
    {"Micros", "1987-06-15 10:30:00.123456", false, true},
    {"TooManyFractionDigits", "1987-06-15 10:30:00.1234567", false, false},
    {"EmptyFraction", "1987-06-15 10:30:00.", false, false},
    {"ZoneHours", "1987-06-15 10:30:00+02", true, true},
    {"ZoneMinutes", "1987-06-15 10:30:00.5-05:30", true, true},
    {"ZoneSeconds", "1901-01-01 00:00:00+01:39:49", true, true},
    {"ZoneMissing", "1987-06-15 10:30:00", true, false},
    {"ZoneWhenNotExpected", "1987-06-15 10:30:00+02", false, false},
    {"BadZone", "1987-06-15 10:30:00+2", true, false},
    {"Hour24", "1987-06-15 24:00:00", false, false},
    {"Feb29NonLeap", "1987-02-29 00:00:00", false, false},
    {"Feb29Leap", "2000-02-29 00:00:00", false, true},
    {"YearZero", "0000-01-01 00:00:00", false, false},
    {"Bc", "0044-03-15 12:00:00 BC", false, false},
    {"Infinity", "infinity", false, false},
    {"TSeparator", "1987-06-15T10:30:00", false, false},
    {"Garbage", "\xff\xfe-\x01", false, false},
};

class TimestampTest : public testing::TestWithParam<TimestampCase> {};

TEST_P(TimestampTest, Parses) {
  const TimestampCase& c = GetParam();
  IsoTimestamp ts;
  EXPECT_EQ(ParseIsoTimestamp(c.text, c.with_zone, ts), c.valid);
}

INSTANTIATE_TEST_SUITE_P(Cases, TimestampTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<TimestampCase>& info) { return info.param.name; });

TEST(DateTimeTest, EveryTruncationIsRejected) {
  const std::string full = "1987-06-15 10:30:00.25+05:30";
  IsoTimestamp ts;
  ASSERT_TRUE(ParseIsoTimestamp(full, true, ts));
  for (size_t len = 0; len < full.size(); ++len) {
    const std::string cut = full.substr(0, len);
    const bool ok = ParseIsoTimestamp(cut, true, ts);
    // Cutting inside the offset can leave a shorter valid offset ("+05") or fraction.
    if (ok) {
      EXPECT_EQ(cut, "1987-06-15 10:30:00.25+05");
    }
  }
  CivilDate date;
  EXPECT_FALSE(ParseIsoDate("1987-06-1", date));
  EXPECT_FALSE(ParseIsoDate("", date));
  CivilTime time;
  EXPECT_FALSE(ParseIsoTime("10:30", time));
}

std::string InstantText(std::string_view text) {
  IsoTimestamp ts;
  if (!ParseIsoInstant(text, ts)) return "invalid";
  std::string out;
  AppendDate(ts.date, out);
  out.push_back(' ');
  AppendTime(ts.time, out);
  out.append(ts.zone);
  return out;
}

TEST(DateTimeTest, InstantIsInUtc) {
  EXPECT_EQ(InstantText("1987-06-15 10:30:00+02"), "1987-06-15 08:30:00+00");
  EXPECT_EQ(InstantText("1987-06-15 10:30:00.25-05:30"), "1987-06-15 16:00:00.25+00");
  EXPECT_EQ(InstantText("1890-12-31 23:00:00-03:30:15"), "1891-01-01 02:30:15+00");
  EXPECT_EQ(InstantText("2000-03-01 00:15:00+01"), "2000-02-29 23:15:00+00");
  EXPECT_EQ(InstantText("1969-12-31 23:59:59.5-00:00:01"), "1970-01-01 00:00:00.5+00");
  EXPECT_EQ(InstantText("0001-01-01 00:00:00+00"), "0001-01-01 00:00:00+00");
  EXPECT_EQ(InstantText("9999-12-31 23:59:59-00"), "9999-12-31 23:59:59+00");
  // Outside the years ParseIsoDate accepts once in UTC, or not ISO at all.
  EXPECT_EQ(InstantText("0001-01-01 00:30:00+01"), "invalid");
  EXPECT_EQ(InstantText("9999-12-31 23:30:00-01"), "invalid");
  EXPECT_EQ(InstantText("0044-03-15 12:00:00+00 BC"), "invalid");
  EXPECT_EQ(InstantText("1987-06-15 10:30:00"), "invalid");
  EXPECT_EQ(InstantText("Mon Jun 15 10:30:00 1987 CEST"), "invalid");
}

TEST(DateTimeTest, DayNumbersRoundTrip) {
  for (const CivilDate& d : {CivilDate{1, 1, 1}, CivilDate{1970, 1, 1}, CivilDate{2000, 2, 29},
                             CivilDate{9999, 12, 31}}) {
    const CivilDate back = CivilFromDays(DaysFromCivil(d));
    EXPECT_EQ(back.year, d.year);
    EXPECT_EQ(back.month, d.month);
    EXPECT_EQ(back.day, d.day);
  }
  EXPECT_EQ(DaysFromCivil(CivilDate{1970, 1, 2}), 1);
  std::string out;
  AppendDate(CivilDate{5, 3, 1}, out);
  EXPECT_EQ(out, "0005-03-01");
}

}  // namespace
}  // namespace pgmask::policy
