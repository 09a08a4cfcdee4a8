#include "protocol/copy_binary.h"

#include <algorithm>

#include "protocol/byte_order.h"

namespace pgmask::protocol {
namespace {

constexpr uint32_t kOidsFlag = uint32_t{1} << 16;
constexpr uint32_t kCriticalFlags = 0xFFFF0000;
constexpr int16_t kTrailerCount = -1;
constexpr int32_t kNullLength = -1;

const uint8_t* Bytes(std::string_view data) { return reinterpret_cast<const uint8_t*>(data.data()); }

void AppendU32(uint32_t v, std::string& out) {
  uint8_t buf[4];
  StoreU32(buf, v);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}

void AppendU16(uint16_t v, std::string& out) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void AppendField(std::string_view value, std::string& out) {
  AppendU32(static_cast<uint32_t>(value.size()), out);
  out.append(value);
}

}  // namespace

absl::StatusOr<size_t> ParseCopyBinaryHeader(std::string_view data) {
  const size_t signature_seen = std::min(data.size(), kCopyBinarySignature.size());
  if (data.substr(0, signature_seen) != kCopyBinarySignature.substr(0, signature_seen)) {
    return absl::InvalidArgumentError("binary COPY data does not start with the PGCOPY signature");
  }
  if (data.size() < kCopyBinaryHeaderSize) return 0;
  const uint32_t flags = LoadU32(Bytes(data) + 11);
  if ((flags & kOidsFlag) != 0) return absl::InvalidArgumentError("binary COPY data with OIDs is not supported");
  if ((flags & kCriticalFlags) != 0) return absl::InvalidArgumentError("binary COPY header has unknown critical flags");
  const int32_t extension = LoadI32(Bytes(data) + 15);
  if (extension < 0) return absl::InvalidArgumentError("binary COPY header extension length is negative");
  const size_t total = kCopyBinaryHeaderSize + static_cast<size_t>(extension);
  return data.size() < total ? 0 : total;
}

absl::StatusOr<size_t> CopyBinaryTuple::Read(std::string_view data) {
  fields_.clear();
  trailer_ = false;
  if (data.size() < 2) return 0;
  const int16_t count = LoadI16(Bytes(data));
  if (count == kTrailerCount) {
    trailer_ = true;
    return 2;
  }
  if (count < 0) return absl::InvalidArgumentError("binary COPY tuple has a negative field count");
  size_t pos = 2;
  for (int16_t i = 0; i < count; ++i) {
    if (data.size() - pos < 4) {
      fields_.clear();
      return 0;
    }
    const int32_t length = LoadI32(Bytes(data) + pos);
    pos += 4;
    if (length == kNullLength) {
      fields_.emplace_back();
      continue;
    }
    if (length < 0) return absl::InvalidArgumentError("binary COPY field has a negative length");
    if (static_cast<size_t>(length) > kCopyBinaryMaxField) {
      return absl::InvalidArgumentError("binary COPY field is longer than 1 GB");
    }
    if (data.size() - pos < static_cast<size_t>(length)) {
      fields_.clear();
      return 0;
    }
    fields_.emplace_back(data.substr(pos, static_cast<size_t>(length)));
    pos += static_cast<size_t>(length);
  }
  return pos;
}

void AppendCopyBinaryHeader(std::string& out) {
  out.append(kCopyBinarySignature);
  AppendU32(0, out);
  AppendU32(0, out);
}

void AppendCopyBinaryTrailer(std::string& out) { AppendU16(static_cast<uint16_t>(kTrailerCount), out); }

absl::Status AppendRewrittenCopyBinaryTuple(const CopyBinaryTuple& tuple, CopyFieldMask mask, std::string& out) {
  const std::vector<std::optional<std::string_view>>& fields = tuple.fields();
  AppendU16(static_cast<uint16_t>(fields.size()), out);
  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldReplacement replacement = mask(i, fields[i]);
    switch (replacement.kind) {
      case FieldReplacement::Kind::kKeep:
        if (fields[i]) {
          AppendField(*fields[i], out);
        } else {
          AppendU32(static_cast<uint32_t>(kNullLength), out);
        }
        break;
      case FieldReplacement::Kind::kNull: AppendU32(static_cast<uint32_t>(kNullLength), out); break;
      case FieldReplacement::Kind::kValue:
        if (replacement.value.size() > kCopyBinaryMaxField) {
          return absl::InvalidArgumentError("replacement value is longer than a COPY field can be");
        }
        AppendField(replacement.value, out);
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace pgmask::protocol
