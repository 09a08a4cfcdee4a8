// The vocabulary shared by the COPY ... TO STDOUT codecs: the options of the COPY statement
// that shape its data (parsed from the statement by the caller) and what a mask callback
// decides for each field.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace pgmask::protocol {

enum class CopyFormat { kText, kCsv, kBinary };

// COPY's FORMAT, DELIMITER, NULL, QUOTE, ESCAPE, HEADER and FORCE_QUOTE options; start from
// ForFormat() so the defaults match the server's for that format. The data must be UTF-8 (or
// any encoding that never embeds ASCII bytes in multibyte characters): the caller refuses a COPY
// whose ENCODING option says otherwise (policy/copy_statement.cc).
struct CopyOptions {
  CopyFormat format = CopyFormat::kText;
  char delimiter = '\t';
  std::string null_string = "\\N";
  char quote = '"';   // CSV only
  char escape = '"';  // CSV only; defaults to the quote
  bool header = false;  // text and CSV: the first row names the columns and is never masked
  // CSV only, FORCE_QUOTE: every column (`*`), or these zero-based columns of the data (the
  // caller resolves the names the statement lists). A replaced field is quoted by these and by
  // its own value alone, never by how the server quoted the clear value (see copy_text.h). Read
  // from the statement rather than quoting every replaced field: the output stays byte for byte
  // what PostgreSQL would send for the masked values.
  bool force_quote_all = false;
  std::vector<size_t> force_quote_columns;

  static CopyOptions ForFormat(CopyFormat format);

  // Whether FORCE_QUOTE covers `column` (CSV; false in the other formats).
  bool ForceQuote(size_t column) const;
};

// The combinations the server refuses (ProcessCopyOptions), so a rewriter never works with
// options under which its own output would be ambiguous.
absl::Status ValidateCopyOptions(const CopyOptions& options);

// What to put in place of one field.
struct FieldReplacement {
  enum class Kind { kKeep, kNull, kValue };
  Kind kind = Kind::kKeep;
  // kValue: the new value (decoded text for text/CSV, the binary encoding for binary). It is
  // copied before the callback is called again, so it may point into the callback's scratch.
  std::string_view value;

  static FieldReplacement Keep() { return {}; }
  static FieldReplacement Null() { return {Kind::kNull, {}}; }
  static FieldReplacement Value(std::string_view v) { return {Kind::kValue, v}; }
};

// Called once per field of every data row (never for the header row) with the zero-based
// column and the decoded value, std::nullopt for NULL. Returning Keep() copies the field's
// original bytes unchanged.
using CopyFieldMask =
    absl::FunctionRef<FieldReplacement(size_t column, std::optional<std::string_view> value)>;

}  // namespace pgmask::protocol
