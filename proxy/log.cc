#include "proxy/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pgmask::proxy {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kPlain};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = 0;
  uint32_t min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; }
  else return 0;
  if (s.size() < n) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Appends `text` as a JSON string; bytes that are not UTF-8 become U+FFFD.
void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out.append("\\\""); ++i; continue;
      case '\\': out.append("\\\\"); ++i; continue;
      case '\n': out.append("\\n"); ++i; continue;
      case '\r': out.append("\\r"); ++i; continue;
      case '\t': out.append("\\t"); ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out.append(absl::StrFormat("\\u%04x", c));
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) {
      out.append("\\ufffd");
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  out.push_back('"');
}

bool IsKeyChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

bool AllDigits(std::string_view v) {
  if (v.empty() || v.size() > 18) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Appends ,"key":value for every `key=value` and `key="value"` in the message.
void AppendFields(std::string& out, std::string_view message) {
  std::vector<std::string_view> seen = {"ts", "level", "msg"};
  size_t i = 0;
  while (i < message.size()) {
    // A key starts the message or follows a space.
    if (i > 0 && message[i - 1] != ' ') {
      ++i;
      continue;
    }
    size_t k = i;
    while (k < message.size() && IsKeyChar(message[k])) ++k;
    if (k == i || k >= message.size() || message[k] != '=') {
      i = k + 1;
      continue;
    }
    const std::string_view key = message.substr(i, k - i);
    std::string_view value;
    size_t end = k + 1;
    bool quoted = false;
    if (end < message.size() && message[end] == '"') {
      // Up to the quote that ends the message or precedes a space.
      size_t close = end + 1;
      auto closes = [&](size_t at) {
        return message[at] == '"' && (at + 1 == message.size() || message[at + 1] == ' ');
      };
      while (close < message.size() && !closes(close)) ++close;
      if (close >= message.size()) break;  // no closing quote: not a field
      value = message.substr(end + 1, close - end - 1);
      end = close + 1;
      quoted = true;
    } else {
      const size_t space = message.find(' ', end);
      const size_t stop = space == std::string_view::npos ? message.size() : space;
      value = message.substr(end, stop - end);
      end = stop;
    }
    i = end;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    out.push_back(',');
    AppendJsonString(out, key);
    out.push_back(':');
    if (!quoted && AllDigits(value)) {
      out.append(value);
    } else {
      AppendJsonString(out, value);
    }
  }
}

}  // namespace

bool ParseLogFormat(std::string_view name, LogFormat& format) {
  if (name == "plain") {
    format = LogFormat::kPlain;
    return true;
  }
  if (name == "json") {
    format = LogFormat::kJson;
    return true;
  }
  return false;
}

void SetLogFormat(LogFormat format) { g_format.store(format, std::memory_order_relaxed); }

std::string FormatLogLine(LogFormat format, std::string_view time, LogLevel level, std::string_view message) {
  std::string line;
  if (format == LogFormat::kPlain) {
    line.append(time).append(" ").append(LevelName(level)).append(" ").append(message).append("\n");
    return line;
  }
  line.append("{\"ts\":");
  AppendJsonString(line, time);
  line.append(",\"level\":");
  AppendJsonString(line, LevelName(level));
  line.append(",\"msg\":");
  AppendJsonString(line, message);
  AppendFields(line, message);
  line.append("}\n");
  return line;
}

bool ParseLogLevel(std::string_view name, LogLevel& level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LevelName(l)) {
      level = l;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view message) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  const std::string line = FormatLogLine(g_format.load(std::memory_order_relaxed), time, level, message);
  // One write per line keeps lines from different threads whole.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace pgmask::proxy
