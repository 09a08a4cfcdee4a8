// Parsing and printing the ISO text forms PostgreSQL sends for date, time, timestamp and
// timestamptz under DateStyle ISO (the default; other DateStyles are not parsed, and their
// values are masked to the type's redaction value instead). Only years 0001..9999 AD parse;
// 'infinity', BC dates and five-digit years do not.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgmask::policy {

struct CivilDate {
  int year = 1900;
  int month = 1;
  int day = 1;
};

struct CivilTime {
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::string_view fraction;  // the digits after '.', possibly empty
};

struct IsoTimestamp {
  CivilDate date;
  CivilTime time;
  std::string_view zone;  // "+02", "-05:30", "+05:30:15"; empty for timestamp
};

// "YYYY-MM-DD", a real calendar date.
bool ParseIsoDate(std::string_view text, CivilDate& date);
// "HH:MM:SS" with an optional ".F" of 1 to 6 digits; hours 00..23.
bool ParseIsoTime(std::string_view text, CivilTime& time);
// "YYYY-MM-DD HH:MM:SS[.F]", then an offset when with_zone.
bool ParseIsoTimestamp(std::string_view text, bool with_zone, IsoTimestamp& ts);
// A timestamptz's text as the instant it names: the UTC date and time, zone "+00". The offset the
// server printed depends on the session's TimeZone (and, for a zone with daylight saving, on the
// instant itself), so a mask must not keep it. False when the UTC date is outside 0001..9999.
bool ParseIsoInstant(std::string_view text, IsoTimestamp& ts);

// Days since 1970-01-01 and back.
int64_t DaysFromCivil(const CivilDate& date);
CivilDate CivilFromDays(int64_t days);

void AppendDate(const CivilDate& date, std::string& out);
void AppendTime(const CivilTime& time, std::string& out);

}  // namespace pgmask::policy
