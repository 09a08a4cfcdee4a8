// COPY ... TO STDOUT data in binary format: the file header, tuples and trailer.
//
//   header   "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length, extension bytes
//   tuple    int16 field count, then per field int32 length (-1 for NULL) and that many bytes
//   trailer  int16 -1
//
// The server sends the header in the same CopyData message as the first tuple (or the trailer),
// each tuple in a message of its own, and the trailer last. Every parser here takes the bytes
// from where the previous item ended and reports the item's length, 0 when the data ends before
// the item does, or InvalidArgument; no length read from the data is trusted before it is
// checked against what is there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/copy_options.h"

namespace pgmask::protocol {

inline constexpr std::string_view kCopyBinarySignature("PGCOPY\n\377\r\n\0", 11);
// Signature, flags and extension length: the header without its extension.
inline constexpr size_t kCopyBinaryHeaderSize = 19;
// The server caps a field at 1 GB; a longer one is refused rather than waited for.
inline constexpr size_t kCopyBinaryMaxField = size_t{1} << 30;

// The header at the start of `data`. Refuses a wrong signature, the OIDs flag (bit 16: tuples
// would carry an extra field) and any other critical flag (bits 17-31), which the format says a
// reader must not ignore.
absl::StatusOr<size_t> ParseCopyBinaryHeader(std::string_view data);

class CopyBinaryTuple {
 public:
  // Reads the tuple or trailer at the start of `data`. The fields point into `data`: valid until
  // the next Read and while `data` lives.
  absl::StatusOr<size_t> Read(std::string_view data);

  bool is_trailer() const { return trailer_; }
  const std::vector<std::optional<std::string_view>>& fields() const { return fields_; }

 private:
  bool trailer_ = false;
  std::vector<std::optional<std::string_view>> fields_;
};

void AppendCopyBinaryHeader(std::string& out);  // no flags, no extension
void AppendCopyBinaryTrailer(std::string& out);

// Appends `tuple` (as read, not the trailer) with each field replaced as `mask` decides; a
// kValue replacement is the binary encoding of the new value. InvalidArgument when a
// replacement is longer than a field can be.
absl::Status AppendRewrittenCopyBinaryTuple(const CopyBinaryTuple& tuple, CopyFieldMask mask, std::string& out);

}  // namespace pgmask::protocol
