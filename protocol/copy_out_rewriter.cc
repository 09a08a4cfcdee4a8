#include "protocol/copy_out_rewriter.h"

#include "absl/strings/str_format.h"

namespace pgmask::protocol {
namespace {

absl::Status FieldCountError(size_t got, size_t expected) {
  return absl::InvalidArgumentError(
      absl::StrFormat("COPY row has %d fields where the COPY has %d columns", got, expected));
}

}  // namespace

CopyOutRewriter::CopyOutRewriter(const CopyOptions& options, size_t columns, size_t max_partial_row)
    : options_(options),
      columns_(columns),
      max_partial_row_(max_partial_row),
      stage_(options.format == CopyFormat::kBinary ? Stage::kFileHeader
             : options.header                      ? Stage::kHeaderRow
                                                   : Stage::kRows) {}

absl::StatusOr<CopyOutRewriter> CopyOutRewriter::Create(const CopyOptions& options, size_t columns,
                                                        size_t max_partial_row) {
  if (absl::Status status = ValidateCopyOptions(options); !status.ok()) return status;
  return CopyOutRewriter(options, columns, max_partial_row);
}

absl::Status CopyOutRewriter::Rewrite(std::string_view payload, CopyFieldMask mask, std::string& out) {
  out.clear();
  const bool carried = !partial_.empty();
  std::string_view data = payload;
  if (carried) {
    partial_.append(payload);
    data = partial_;
  }
  size_t pos = 0;
  while (pos < data.size()) {
    const absl::StatusOr<size_t> length = Step(data.substr(pos), mask, out);
    if (!length.ok()) return length.status();
    if (*length == 0) break;
    pos += *length;
  }
  if (data.size() - pos > max_partial_row_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("COPY row is longer than %d bytes without ending", max_partial_row_));
  }
  if (carried) {
    partial_.erase(0, pos);
  } else {
    partial_.assign(data.substr(pos));
  }
  return absl::OkStatus();
}

absl::Status CopyOutRewriter::Finish() const {
  if (!partial_.empty()) return absl::FailedPreconditionError("COPY data ended inside a row");
  if (options_.format == CopyFormat::kBinary && stage_ != Stage::kDone) {
    return absl::FailedPreconditionError("binary COPY data ended without its trailer");
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> CopyOutRewriter::Step(std::string_view data, CopyFieldMask mask, std::string& out) {
  if (stage_ == Stage::kDone) return absl::InvalidArgumentError("COPY data after the binary trailer");
  return options_.format == CopyFormat::kBinary ? StepBinary(data, mask, out) : StepText(data, mask, out);
}

absl::StatusOr<size_t> CopyOutRewriter::StepText(std::string_view data, CopyFieldMask mask, std::string& out) {
  const absl::StatusOr<size_t> length = text_row_.Split(options_, data);
  if (!length.ok() || *length == 0) return length;
  // A COPY of no columns sends empty lines, which split as one empty field.
  const size_t count = columns_ == 0 && *length == 1 ? 0 : text_row_.fields().size();
  if (count != columns_) return FieldCountError(count, columns_);
  if (stage_ == Stage::kHeaderRow) {
    out.append(data.substr(0, *length));
    stage_ = Stage::kRows;
    return length;
  }
  if (count == 0) {
    out.push_back('\n');
  } else {
    AppendRewrittenCopyTextRow(options_, text_row_, mask, out);
  }
  ++rows_;
  return length;
}

absl::StatusOr<size_t> CopyOutRewriter::StepBinary(std::string_view data, CopyFieldMask mask, std::string& out) {
  if (stage_ == Stage::kFileHeader) {
    const absl::StatusOr<size_t> length = ParseCopyBinaryHeader(data);
    if (!length.ok() || *length == 0) return length;
    out.append(data.substr(0, *length));
    stage_ = Stage::kRows;
    return length;
  }
  const absl::StatusOr<size_t> length = tuple_.Read(data);
  if (!length.ok() || *length == 0) return length;
  if (tuple_.is_trailer()) {
    AppendCopyBinaryTrailer(out);
    stage_ = Stage::kDone;
    return length;
  }
  if (tuple_.fields().size() != columns_) return FieldCountError(tuple_.fields().size(), columns_);
  if (absl::Status status = AppendRewrittenCopyBinaryTuple(tuple_, mask, out); !status.ok()) return status;
  ++rows_;
  return length;
}

}  // namespace pgmask::protocol
