// One row of COPY ... TO STDOUT data in text or CSV format: split into decoded fields, and
// re-encoded with some fields replaced.
//
// A row is its bytes up to and including the '\n' that ends it, which is how the server sends
// them (COPY TO writes '\n' line ends and one row per CopyData message). Splitting reports how
// many bytes the row took, or 0 when the data ends before the row does, so a caller can carry
// the rest over to the next message (CopyOutRewriter does).
//
// Text format: fields are separated by the delimiter; a backslash takes the next byte with it
// (\b \f \n \r \t \v, \\, \NNN octal, \xHH hex, anything else stands for itself, delimiter and
// newline included). A field whose raw bytes equal the NULL string is NULL.
// CSV: quoted sections (anywhere in a field) hold delimiters and newlines; inside them the escape
// character followed by the quote or escape character stands for that character. An unquoted
// field equal to the NULL string is NULL; a quoted one never is.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/copy_options.h"

namespace pgmask::protocol {

struct CopyTextField {
  std::string_view raw;                   // the field's bytes in the row, escapes and quotes included
  std::optional<std::string_view> value;  // decoded; std::nullopt for NULL
  bool quoted = false;                    // CSV: some part of the field was quoted
};

class CopyTextRow {
 public:
  // Splits the first row of `data` under `options` (text or CSV, valid per ValidateCopyOptions).
  // Returns the row's length including its '\n', 0 when `data` holds no complete row, or
  // InvalidArgument. The fields point into `data` and into this object: valid until the next
  // Split and while `data` lives.
  absl::StatusOr<size_t> Split(const CopyOptions& options, std::string_view data);

  const std::vector<CopyTextField>& fields() const { return fields_; }

 private:
  size_t SplitText(const CopyOptions& options, std::string_view data);
  size_t SplitCsv(const CopyOptions& options, std::string_view data);
  void AddField(const CopyOptions& options, std::string_view raw, bool decode, bool quoted);

  std::string decoded_;  // backing store of the fields that needed unescaping
  std::vector<CopyTextField> fields_;
};

// Appends one field, without delimiter, encoded as the server's COPY TO encodes it: text
// escapes backslash, the delimiter and control characters; CSV quotes a value that holds the
// delimiter, quote, CR or LF, equals the NULL string, or is "\." alone on its line
// (`only_column`), and always when `force_quote`. NULL is the NULL string, never quoted. As
// with the server, a text-format value spelled like a custom NULL string ('NULL') reads back as
// NULL: masks that can produce such a value should not be used with that option.
void AppendCopyTextField(const CopyOptions& options, std::optional<std::string_view> value,
                         bool force_quote, bool only_column, std::string& out);

// Appends the row `row` (as split from its data) with each field replaced as `mask` decides,
// then '\n'. Kept fields are copied byte for byte, so a row where every field is kept comes out
// identical. A replaced field is encoded from its new value and the options alone, as the server
// would have written that value (a CSV field quoted for FORCE_QUOTE or for what it holds): never
// by how the server quoted the original, which tells whether the clear value held the delimiter
// or the quote, or equalled the NULL string.
void AppendRewrittenCopyTextRow(const CopyOptions& options, const CopyTextRow& row, CopyFieldMask mask,
                                std::string& out);

}  // namespace pgmask::protocol
