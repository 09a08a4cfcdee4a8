#include "protocol/copy_options.h"

#include <algorithm>
#include <string_view>

namespace pgmask::protocol {

CopyOptions CopyOptions::ForFormat(CopyFormat format) {
  CopyOptions options;
  options.format = format;
  if (format == CopyFormat::kCsv) {
    options.delimiter = ',';
    options.null_string.clear();
  }
  return options;
}

bool CopyOptions::ForceQuote(size_t column) const {
  if (format != CopyFormat::kCsv) return false;
  return force_quote_all || std::find(force_quote_columns.begin(), force_quote_columns.end(), column) !=
                                force_quote_columns.end();
}

absl::Status ValidateCopyOptions(const CopyOptions& options) {
  if (options.format != CopyFormat::kCsv && (options.force_quote_all || !options.force_quote_columns.empty())) {
    return absl::InvalidArgumentError("COPY FORCE_QUOTE is only available in CSV mode");
  }
  if (options.format == CopyFormat::kBinary) {
    if (options.header) return absl::InvalidArgumentError("COPY HEADER is not available in binary format");
    return absl::OkStatus();
  }
  const bool csv = options.format == CopyFormat::kCsv;
  if (options.delimiter == '\n' || options.delimiter == '\r') {
    return absl::InvalidArgumentError("COPY delimiter cannot be newline or carriage return");
  }
  if (options.null_string.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError("COPY null representation cannot use newline or carriage return");
  }
  if (options.null_string.find(options.delimiter) != std::string::npos) {
    return absl::InvalidArgumentError("COPY delimiter must not appear in the NULL specification");
  }
  // In text format these would be read as part of an escape sequence or a number.
  if (!csv && std::string_view("\\.abcdefghijklmnopqrstuvwxyz0123456789").find(options.delimiter) !=
                  std::string_view::npos) {
    return absl::InvalidArgumentError("COPY delimiter cannot be a backslash, '.', a lowercase letter or a digit");
  }
  if (!csv) {
    // A NULL string ending in a backslash of its own (NULL '\') escapes the delimiter or newline
    // that follows it, so field and row boundaries move: the server accepts it, but its output
    // cannot be split reliably, and a value could be read into the wrong column (in clear).
    size_t trailing_backslashes = 0;
    for (auto it = options.null_string.rbegin(); it != options.null_string.rend() && *it == '\\'; ++it) {
      ++trailing_backslashes;
    }
    if (trailing_backslashes % 2 == 1) {
      return absl::InvalidArgumentError("COPY null representation cannot end with an unescaped backslash");
    }
    return absl::OkStatus();
  }
  if (options.delimiter == options.quote) {
    return absl::InvalidArgumentError("COPY delimiter and quote must be different");
  }
  if (options.null_string.find(options.quote) != std::string::npos) {
    return absl::InvalidArgumentError("CSV quote character must not appear in the NULL specification");
  }
  return absl::OkStatus();
}

}  // namespace pgmask::protocol
