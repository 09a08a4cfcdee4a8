// One line per event on stderr: "<UTC time> <level> <message>". Messages never carry SQL text or
// values; callers log identifiers, addresses and reasons only.
#pragma once

#include <string_view>

#include "absl/strings/str_format.h"

namespace pgmask::proxy {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

bool ParseLogLevel(std::string_view name, LogLevel& level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Logf(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (LogEnabled(level)) LogLine(level, absl::StrFormat(format, args...));
}

}  // namespace pgmask::proxy
