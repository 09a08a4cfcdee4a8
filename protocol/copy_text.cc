#include "protocol/copy_text.h"

namespace pgmask::protocol {
namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes CopyAttributeOutText, reading escapes as the server's COPY FROM does.
void DecodeText(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out.push_back(c);
      continue;
    }
    c = raw[++i];
    switch (c) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': {
        if (i + 1 == raw.size() || HexValue(raw[i + 1]) < 0) {
          out.push_back('x');
          break;
        }
        int value = HexValue(raw[++i]);
        if (i + 1 < raw.size() && HexValue(raw[i + 1]) >= 0) value = value * 16 + HexValue(raw[++i]);
        out.push_back(static_cast<char>(value));
        break;
      }
      default:
        if (!IsOctal(c)) {
          out.push_back(c);
          break;
        }
        int value = c - '0';
        for (int more = 0; more < 2 && i + 1 < raw.size() && IsOctal(raw[i + 1]); ++more) {
          value = value * 8 + (raw[++i] - '0');
        }
        out.push_back(static_cast<char>(value & 0xFF));
        break;
    }
  }
}

// Undoes CopyAttributeOutCSV: quotes dropped, escaped quote and escape characters kept once.
// `raw` is a whole field, so every quoted section in it is closed.
void DecodeCsv(const CopyOptions& options, std::string_view raw, std::string& out) {
  bool in_quote = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (in_quote && c == options.escape && i + 1 < raw.size() &&
        (raw[i + 1] == options.escape || raw[i + 1] == options.quote)) {
      out.push_back(raw[++i]);
      continue;
    }
    if (c == options.quote) {
      in_quote = !in_quote;
      continue;
    }
    out.push_back(c);
  }
}

}  // namespace

absl::StatusOr<size_t> CopyTextRow::Split(const CopyOptions& options, std::string_view data) {
  if (options.format == CopyFormat::kBinary) {
    return absl::InvalidArgumentError("binary COPY data has no text rows");
  }
  fields_.clear();
  decoded_.clear();
  // Decoding only ever shrinks a field, so appending within this capacity never reallocates and
  // the views handed out for earlier fields stay valid.
  decoded_.reserve(data.size());
  const size_t length = options.format == CopyFormat::kCsv ? SplitCsv(options, data) : SplitText(options, data);
  if (length == 0) fields_.clear();
  return length;
}

size_t CopyTextRow::SplitText(const CopyOptions& options, std::string_view data) {
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\\') {
      // The backslash takes the next byte with it, even a delimiter or newline.
      if (++i == data.size()) return 0;
      escaped = true;
      continue;
    }
    if (c != options.delimiter && c != '\n') continue;
    AddField(options, data.substr(start, i - start), escaped, false);
    if (c == '\n') return i + 1;
    start = i + 1;
    escaped = false;
  }
  return 0;
}

size_t CopyTextRow::SplitCsv(const CopyOptions& options, std::string_view data) {
  size_t start = 0;
  bool in_quote = false;
  bool quoted = false;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (in_quote) {
      if (c == options.escape) {
        // Whether this escapes the next byte or (escape == quote) closes the quote depends on
        // that byte.
        if (i + 1 == data.size()) return 0;
        if (data[i + 1] == options.escape || data[i + 1] == options.quote) {
          ++i;
          continue;
        }
      }
      if (c == options.quote) in_quote = false;
      continue;
    }
    if (c == options.quote) {
      in_quote = true;
      quoted = true;
      continue;
    }
    if (c != options.delimiter && c != '\n') continue;
    AddField(options, data.substr(start, i - start), quoted, quoted);
    if (c == '\n') return i + 1;
    start = i + 1;
    quoted = false;
  }
  return 0;
}

void CopyTextRow::AddField(const CopyOptions& options, std::string_view raw, bool decode, bool quoted) {
  CopyTextField& field = fields_.emplace_back();
  field.raw = raw;
  field.quoted = quoted;
  // The NULL string is matched against the raw bytes, as the server reads it: "\\N" is the
  // two characters \N, not NULL.
  if (!quoted && raw == options.null_string) return;
  if (!decode) {
    field.value = raw;
    return;
  }
  const size_t offset = decoded_.size();
  if (options.format == CopyFormat::kCsv) {
    DecodeCsv(options, raw, decoded_);
  } else {
    DecodeText(raw, decoded_);
  }
  field.value = std::string_view(decoded_).substr(offset);
}

void AppendCopyTextField(const CopyOptions& options, std::optional<std::string_view> value,
                         bool force_quote, bool only_column, std::string& out) {
  if (!value) {
    out.append(options.null_string);
    return;
  }
  if (options.format != CopyFormat::kCsv) {
    for (const char c : *value) {
      switch (c) {
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\v': out.append("\\v"); break;
        default:
          if (c == '\\' || c == options.delimiter) out.push_back('\\');
          out.push_back(c);
      }
    }
    return;
  }
  const char specials[] = {options.delimiter, options.quote, '\n', '\r'};
  const bool quote = force_quote || *value == options.null_string || (only_column && *value == "\\.") ||
                     value->find_first_of(std::string_view(specials, sizeof(specials))) != std::string_view::npos;
  if (!quote) {
    out.append(*value);
    return;
  }
  out.push_back(options.quote);
  for (const char c : *value) {
    if (c == options.quote || c == options.escape) out.push_back(options.escape);
    out.push_back(c);
  }
  out.push_back(options.quote);
}

void AppendRewrittenCopyTextRow(const CopyOptions& options, const CopyTextRow& row, CopyFieldMask mask,
                                std::string& out) {
  const std::vector<CopyTextField>& fields = row.fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(options.delimiter);
    const CopyTextField& field = fields[i];
    const FieldReplacement replacement = mask(i, field.value);
    switch (replacement.kind) {
      case FieldReplacement::Kind::kKeep: out.append(field.raw); break;
      case FieldReplacement::Kind::kNull: out.append(options.null_string); break;
      case FieldReplacement::Kind::kValue:
        // Quoted as PostgreSQL would quote this value in this column (FORCE_QUOTE, or what the
        // value holds), never because the server quoted the clear value (field.quoted): that
        // would tell whether it held the delimiter or quote character, or equalled the NULL
        // string.
        AppendCopyTextField(options, replacement.value, options.ForceQuote(i), fields.size() == 1, out);
        break;
    }
  }
  out.push_back('\n');
}

}  // namespace pgmask::protocol
