// date, time, timestamp and timestamptz in binary: integers counting days (date) or
// microseconds (the others) from 2000-01-01 00:00:00 (PostgreSQL's epoch) or from midnight
// (time), with the extremes of the integer type standing for -infinity and infinity. Calendar
// arithmetic is the proleptic Gregorian calendar over astronomical years, as the server's:
// year 0 is 1 BC.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "policy/binary_codecs.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::policy::binary {
namespace {

constexpr int64_t kUsecPerSecond = 1'000'000;
constexpr int64_t kUsecPerDay = 86'400 * kUsecPerSecond;
constexpr int64_t kEpochDaysSince1970 = 10'957;  // 2000-01-01
// The server's valid ranges (IS_VALID_DATE, IS_VALID_TIMESTAMP): from 4714-11-24 BC to just
// before 5874898-01-01 (date) and 294277-01-01 (timestamp).
constexpr int64_t kMinDate = -2'451'545;
constexpr int64_t kEndDate = 2'145'031'949;
constexpr int64_t kMinTimestamp = -211'813'488'000'000'000;
constexpr int64_t kEndTimestamp = 9'223'371'331'200'000'000;
constexpr int kMaxOffsetHours = 15;  // the server refuses larger UTC offsets
constexpr int kMaxFractionDigits = 6;

struct Civil {
  int64_t year = 2000;  // astronomical: 0 is 1 BC
  int month = 1;
  int day = 1;
};

// Howard Hinnant's days_from_civil / civil_from_days, in 64-bit for the server's far years.
int64_t DaysFromCivil(const Civil& c) {
  const int64_t y = c.year - (c.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (c.month + (c.month > 2 ? -3 : 9)) + 2) / 5 + c.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

Civil CivilFromDays(int64_t z) {
  z += 719'468;
  const int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const int64_t doe = z - era * 146'097;
  const int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Civil{yoe + era * 400 + (month <= 2 ? 1 : 0), month, static_cast<int>(doy - (153 * mp + 2) / 5 + 1)};
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0); }

void AppendPadded(int64_t value, int width, std::string& out) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n < width) buf[n++] = '0';
  while (n > 0) out.push_back(buf[--n]);
}

void AppendCivilDate(const Civil& c, std::string& out) {
  AppendPadded(c.year > 0 ? c.year : 1 - c.year, 4, out);
  out.push_back('-');
  AppendPadded(c.month, 2, out);
  out.push_back('-');
  AppendPadded(c.day, 2, out);
}

// "HH:MM:SS" then ".ffffff" without trailing zeros when the microseconds are not zero.
void AppendClock(int64_t usec, std::string& out) {
  const int64_t seconds = usec / kUsecPerSecond;
  AppendPadded(seconds / 3600, 2, out);
  out.push_back(':');
  AppendPadded(seconds / 60 % 60, 2, out);
  out.push_back(':');
  AppendPadded(seconds % 60, 2, out);
  int64_t fraction = usec % kUsecPerSecond;
  if (fraction == 0) return;
  int width = kMaxFractionDigits;
  while (fraction % 10 == 0) {
    fraction /= 10;
    --width;
  }
  out.push_back('.');
  AppendPadded(fraction, width, out);
}

bool AppendInfinity(int64_t value, int64_t min, int64_t max, std::string& out) {
  if (value == min) {
    out.append("-infinity");
    return true;
  }
  if (value == max) {
    out.append("infinity");
    return true;
  }
  return false;
}

// 'infinity', '+infinity' or '-infinity' in any case; sets `negative`.
bool IsInfinity(std::string_view text, bool& negative) {
  negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return absl::EqualsIgnoreCase(ToAbsl(text), "infinity");
}

// Consumes exactly `count` digits.
bool TakeDigits(std::string_view& text, size_t count, int64_t& value) {
  if (text.size() < count) return false;
  value = 0;
  for (size_t i = 0; i < count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  text.remove_prefix(count);
  return true;
}

bool TakeChar(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

bool IsLeap(int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int DaysInMonth(int64_t year, int month) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// "Y...Y-MM-DD" with a year of 4 to 7 digits, 1 or later (BC is applied by the caller).
bool TakeDate(std::string_view& text, Civil& c) {
  size_t year_digits = 0;
  while (year_digits < text.size() && text[year_digits] >= '0' && text[year_digits] <= '9') ++year_digits;
  if (year_digits < 4 || year_digits > 7) return false;
  int64_t month = 0;
  int64_t day = 0;
  if (!TakeDigits(text, year_digits, c.year) || !TakeChar(text, '-') || !TakeDigits(text, 2, month) ||
      !TakeChar(text, '-') || !TakeDigits(text, 2, day)) {
    return false;
  }
  c.month = static_cast<int>(month);
  c.day = static_cast<int>(day);
  return c.year >= 1 && c.month >= 1 && c.month <= 12 && c.day >= 1;
}

// " BC" at the end turns year Y into astronomical 1 - Y; then the day must exist in that year.
bool FinishDate(std::string_view& text, Civil& c) {
  if (text == " BC") {
    c.year = 1 - c.year;
    text = {};
  }
  return c.day <= DaysInMonth(c.year, c.month);
}

// "HH:MM:SS[.f]" with 1 to 6 fraction digits; 24:00:00 is the end of the day.
bool TakeClock(std::string_view& text, int64_t& usec) {
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  if (!TakeDigits(text, 2, hour) || !TakeChar(text, ':') || !TakeDigits(text, 2, minute) ||
      !TakeChar(text, ':') || !TakeDigits(text, 2, second)) {
    return false;
  }
  if (hour > 24 || minute > 59 || second > 59) return false;
  int64_t fraction = 0;
  if (TakeChar(text, '.')) {
    size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
    if (n == 0 || n > kMaxFractionDigits || !TakeDigits(text, n, fraction)) return false;
    for (size_t i = n; i < kMaxFractionDigits; ++i) fraction *= 10;
  }
  usec = ((hour * 60 + minute) * 60 + second) * kUsecPerSecond + fraction;
  return usec <= kUsecPerDay;
}

// "+HH", "+HH:MM" or "+HH:MM:SS" (or '-'), as seconds east of UTC.
bool TakeOffset(std::string_view& text, int64_t& seconds) {
  if (text.empty() || (text.front() != '+' && text.front() != '-')) return false;
  const bool west = text.front() == '-';
  text.remove_prefix(1);
  int64_t hours = 0;
  int64_t minutes = 0;
  int64_t secs = 0;
  if (!TakeDigits(text, 2, hours)) return false;
  if (TakeChar(text, ':')) {
    if (!TakeDigits(text, 2, minutes)) return false;
    if (TakeChar(text, ':') && !TakeDigits(text, 2, secs)) return false;
  }
  if (hours > kMaxOffsetHours || minutes > 59 || secs > 59) return false;
  seconds = (hours * 60 + minutes) * 60 + secs;
  if (west) seconds = -seconds;
  return true;
}

}  // namespace

bool DateToText(std::string_view binary, std::string& out) {
  if (binary.size() != 4) return false;
  const auto days = static_cast<int32_t>(LoadBigEndian(binary));
  out.clear();
  if (AppendInfinity(days, INT32_MIN, INT32_MAX, out)) return true;
  if (days < kMinDate || days >= kEndDate) return false;
  const Civil c = CivilFromDays(days + kEpochDaysSince1970);
  AppendCivilDate(c, out);
  if (c.year <= 0) out.append(" BC");
  return true;
}

bool TextToDate(std::string_view text, std::string& out) {
  out.clear();
  bool negative = false;
  if (IsInfinity(text, negative)) {
    AppendBigEndian(static_cast<uint32_t>(negative ? INT32_MIN : INT32_MAX), 4, out);
    return true;
  }
  Civil c;
  if (!TakeDate(text, c) || !FinishDate(text, c) || !text.empty()) return false;
  const int64_t days = DaysFromCivil(c) - kEpochDaysSince1970;
  if (days < kMinDate || days >= kEndDate) return false;
  AppendBigEndian(static_cast<uint32_t>(days), 4, out);
  return true;
}

bool TimeToText(std::string_view binary, std::string& out) {
  if (binary.size() != 8) return false;
  const auto usec = static_cast<int64_t>(LoadBigEndian(binary));
  if (usec < 0 || usec > kUsecPerDay) return false;
  out.clear();
  AppendClock(usec, out);
  return true;
}

bool TextToTime(std::string_view text, std::string& out) {
  int64_t usec = 0;
  if (!TakeClock(text, usec) || !text.empty()) return false;
  out.clear();
  AppendBigEndian(static_cast<uint64_t>(usec), 8, out);
  return true;
}

bool TimestampToText(bool with_zone, std::string_view binary, std::string& out) {
  if (binary.size() != 8) return false;
  const auto usec = static_cast<int64_t>(LoadBigEndian(binary));
  out.clear();
  if (AppendInfinity(usec, INT64_MIN, INT64_MAX, out)) return true;
  if (usec < kMinTimestamp || usec >= kEndTimestamp) return false;
  const int64_t days = FloorDiv(usec, kUsecPerDay);
  const Civil c = CivilFromDays(days + kEpochDaysSince1970);
  AppendCivilDate(c, out);
  out.push_back(' ');
  AppendClock(usec - days * kUsecPerDay, out);
  if (with_zone) out.append("+00");
  if (c.year <= 0) out.append(" BC");
  return true;
}

bool TextToTimestamp(bool with_zone, std::string_view text, std::string& out) {
  out.clear();
  bool negative = false;
  if (IsInfinity(text, negative)) {
    AppendBigEndian(static_cast<uint64_t>(negative ? INT64_MIN : INT64_MAX), 8, out);
    return true;
  }
  Civil c;
  int64_t clock = 0;
  int64_t offset = 0;
  if (!TakeDate(text, c) || !TakeChar(text, ' ') || !TakeClock(text, clock)) return false;
  // A timestamptz without an offset would be read in the session's TimeZone, which pgmask does
  // not track, so it is refused rather than guessed.
  if (with_zone && !TakeOffset(text, offset)) return false;
  if (!FinishDate(text, c) || !text.empty()) return false;
  const int64_t days = DaysFromCivil(c) - kEpochDaysSince1970;
  // Bounded before multiplying so far dates cannot overflow the microsecond count.
  if (days < kMinTimestamp / kUsecPerDay - 1 || days > kEndTimestamp / kUsecPerDay) return false;
  const int64_t usec = days * kUsecPerDay + clock - offset * kUsecPerSecond;
  if (usec < kMinTimestamp || usec >= kEndTimestamp) return false;
  AppendBigEndian(static_cast<uint64_t>(usec), 8, out);
  return true;
}

}  // namespace pgmask::policy::binary
