// Masks the data of one COPY ... TO STDOUT as it streams from the server, one CopyData message
// at a time: the text, CSV or binary rows are split into fields, handed to a mask callback and
// re-encoded; the header row or binary file header and the trailer pass through unchanged.
//
// The proxy, on CopyOutResponse (overall format, column count, per-column formats):
//   CopyOutRewriter rewriter = *CopyOutRewriter::Create(options, column_count);
// on each CopyData payload:
//   status = rewriter.Rewrite(payload, mask, out);   // out reused across messages
//   !status.ok()  -> ErrorResponse and close: the data cannot be masked, so it must not pass
//   out.empty()   -> send nothing (the message held only part of a row; see below)
//   else          -> send one CopyData carrying `out`
// on CopyDone:
//   rewriter.Finish() must be OK (no row left half-received, binary trailer seen).
//
// The mask callback sees each data row's fields in column order with their decoded value (text
// and CSV) or binary encoding (binary), never the header row's column names; a row or tuple
// whose field count differs from the column count is an error, never passed on.
//
// The server sends one row per CopyData message (the binary header rides with the first tuple),
// so `out` normally holds exactly the rewritten rows of `payload`. Should a row arrive split
// across messages, the complete rows are rewritten and the partial one is kept until the rest
// arrives, up to `max_partial_row` bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/copy_binary.h"
#include "protocol/copy_options.h"
#include "protocol/copy_text.h"

namespace pgmask::protocol {

class CopyOutRewriter {
 public:
  static constexpr size_t kDefaultMaxPartialRow = size_t{64} << 20;

  // InvalidArgument when `options` fail ValidateCopyOptions.
  static absl::StatusOr<CopyOutRewriter> Create(const CopyOptions& options, size_t columns,
                                                size_t max_partial_row = kDefaultMaxPartialRow);

  // Replaces `out` with the rewritten complete rows of the data received so far.
  absl::Status Rewrite(std::string_view payload, CopyFieldMask mask, std::string& out);

  // At CopyDone: FailedPrecondition when a row is incomplete or the binary trailer is missing.
  absl::Status Finish() const;

  // Data rows rewritten so far (not the header row): the statement's row count for the audit.
  uint64_t rows() const { return rows_; }

 private:
  enum class Stage { kFileHeader, kHeaderRow, kRows, kDone };

  CopyOutRewriter(const CopyOptions& options, size_t columns, size_t max_partial_row);

  // Rewrites the item (header, row, tuple or trailer) at the start of `data` into `out` and
  // returns its length, or 0 when `data` ends inside it.
  absl::StatusOr<size_t> Step(std::string_view data, CopyFieldMask mask, std::string& out);
  absl::StatusOr<size_t> StepText(std::string_view data, CopyFieldMask mask, std::string& out);
  absl::StatusOr<size_t> StepBinary(std::string_view data, CopyFieldMask mask, std::string& out);

  CopyOptions options_;
  size_t columns_;
  size_t max_partial_row_;
  Stage stage_;
  uint64_t rows_ = 0;
  std::string partial_;  // the start of a row whose end has not arrived yet
  CopyTextRow text_row_;
  CopyBinaryTuple tuple_;
};

}  // namespace pgmask::protocol
