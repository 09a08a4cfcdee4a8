#include "policy/date_time.h"

#include <chrono>

namespace pgmask::policy {
namespace {

bool Digits(std::string_view text, size_t pos, size_t count, int& value) {
  if (pos + count > text.size()) return false;
  value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

void AppendPadded(int value, int width, std::string& out) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

// "+HH", "+HH:MM" or "+HH:MM:SS" (or '-').
bool IsZone(std::string_view zone) {
  if (zone.size() != 3 && zone.size() != 6 && zone.size() != 9) return false;
  if (zone[0] != '+' && zone[0] != '-') return false;
  int part = 0;
  for (size_t pos = 1; pos < zone.size(); pos += 3) {
    if (pos > 1 && zone[pos - 1] != ':') return false;
    if (!Digits(zone, pos, 2, part) || part > 59) return false;
  }
  return true;
}

// An offset IsZone accepted, in seconds east of UTC.
int ZoneSeconds(std::string_view zone) {
  int seconds = 0;
  int part = 0;
  for (size_t pos = 1; pos < 9; pos += 3) {
    const bool present = pos < zone.size() && Digits(zone, pos, 2, part);
    seconds = seconds * 60 + (present ? part : 0);
  }
  return zone[0] == '-' ? -seconds : seconds;
}

}  // namespace

bool ParseIsoDate(std::string_view text, CivilDate& date) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!Digits(text, 0, 4, date.year) || !Digits(text, 5, 2, date.month) ||
      !Digits(text, 8, 2, date.day)) {
    return false;
  }
  if (date.year < 1) return false;
  const std::chrono::year_month_day ymd{std::chrono::year{date.year},
                                        std::chrono::month{static_cast<unsigned>(date.month)},
                                        std::chrono::day{static_cast<unsigned>(date.day)}};
  return ymd.ok();
}

bool ParseIsoTime(std::string_view text, CivilTime& time) {
  if (text.size() < 8 || text[2] != ':' || text[5] != ':') return false;
  if (!Digits(text, 0, 2, time.hour) || !Digits(text, 3, 2, time.minute) ||
      !Digits(text, 6, 2, time.second)) {
    return false;
  }
  if (time.hour > 23 || time.minute > 59 || time.second > 59) return false;
  time.fraction = {};
  if (text.size() == 8) return true;
  if (text[8] != '.' || text.size() < 10 || text.size() > 15) return false;
  time.fraction = text.substr(9);
  for (const char c : time.fraction) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ParseIsoTimestamp(std::string_view text, bool with_zone, IsoTimestamp& ts) {
  if (text.size() < 19 || text[10] != ' ') return false;
  if (!ParseIsoDate(text.substr(0, 10), ts.date)) return false;
  std::string_view rest = text.substr(11);
  ts.zone = {};
  if (with_zone) {
    const size_t sign = rest.find_first_of("+-");
    if (sign == std::string_view::npos || !IsZone(rest.substr(sign))) return false;
    ts.zone = rest.substr(sign);
    rest = rest.substr(0, sign);
  }
  return ParseIsoTime(rest, ts.time);
}

bool ParseIsoInstant(std::string_view text, IsoTimestamp& ts) {
  if (!ParseIsoTimestamp(text, true, ts)) return false;
  constexpr int64_t kSecondsPerDay = 86400;
  const int64_t utc = DaysFromCivil(ts.date) * kSecondsPerDay + ts.time.hour * 3600 +
                      ts.time.minute * 60 + ts.time.second - ZoneSeconds(ts.zone);
  // Floor division: an instant before 1970 has a negative count.
  const int64_t days = utc / kSecondsPerDay - (utc % kSecondsPerDay < 0 ? 1 : 0);
  const auto second = static_cast<int>(utc - days * kSecondsPerDay);
  ts.date = CivilFromDays(days);
  if (ts.date.year < 1 || ts.date.year > 9999) return false;
  ts.time.hour = second / 3600;
  ts.time.minute = second / 60 % 60;
  ts.time.second = second % 60;
  ts.zone = "+00";
  return true;
}

int64_t DaysFromCivil(const CivilDate& date) {
  const std::chrono::sys_days days{
      std::chrono::year_month_day{std::chrono::year{date.year},
                                  std::chrono::month{static_cast<unsigned>(date.month)},
                                  std::chrono::day{static_cast<unsigned>(date.day)}}};
  return days.time_since_epoch().count();
}

CivilDate CivilFromDays(int64_t days) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  return CivilDate{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

void AppendDate(const CivilDate& date, std::string& out) {
  AppendPadded(date.year, 4, out);
  out.push_back('-');
  AppendPadded(date.month, 2, out);
  out.push_back('-');
  AppendPadded(date.day, 2, out);
}

void AppendTime(const CivilTime& time, std::string& out) {
  AppendPadded(time.hour, 2, out);
  out.push_back(':');
  AppendPadded(time.minute, 2, out);
  out.push_back(':');
  AppendPadded(time.second, 2, out);
  if (!time.fraction.empty()) {
    out.push_back('.');
    out.append(time.fraction);
  }
}

}  // namespace pgmask::policy
