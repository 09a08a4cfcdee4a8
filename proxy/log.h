// One line per event on stderr: "<UTC time> <level> <message>", or with --log-format json one JSON
// object per line: {"ts":..., "level":..., "msg":..., key: value...}, where every `key=value` in the
// message (value bare or in double quotes) also becomes a field. Messages never carry SQL text or
// values; callers log identifiers, addresses and reasons only.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/str_format.h"

namespace pgmask::proxy {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kPlain, kJson };

bool ParseLogLevel(std::string_view name, LogLevel& level);
void SetLogLevel(LogLevel level);
bool ParseLogFormat(std::string_view name, LogFormat& format);
void SetLogFormat(LogFormat format);
// The line LogLine writes for `message` at `time` (exposed for tests).
std::string FormatLogLine(LogFormat format, std::string_view time, LogLevel level, std::string_view message);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Logf(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (LogEnabled(level)) LogLine(level, absl::StrFormat(format, args...));
}

}  // namespace pgmask::proxy
