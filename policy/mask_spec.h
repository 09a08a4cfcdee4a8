// A column's mask function as written in the policy: `redact`, `partial(0, 'XXX-XX-', 4)`, ...
// Parsing only checks the expression; masker.h turns a spec into a type-aware Masker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pgmask::policy {

enum class MaskKind { kRedact, kNull, kPartial, kEmail, kHash, kTokenize, kGeneralize };

enum class DatePart { kYear, kMonth, kDecade };

inline constexpr int kDefaultHashChars = 16;
inline constexpr int kMaxHashChars = 64;  // hex digits of a SHA-256 HMAC
inline constexpr int kMaxPartialKeep = 1000;
inline constexpr size_t kMaxMaskTextBytes = 1000;
inline constexpr int64_t kMaxBucket = 1'000'000'000'000'000'000;

struct MaskSpec {
  MaskKind kind = MaskKind::kRedact;
  std::string text = "***";             // redact's replacement, partial's pad
  int prefix = 0;                       // partial: code points kept at the start
  int suffix = 0;                       // partial: code points kept at the end
  int hash_chars = kDefaultHashChars;   // hash(n)
  std::optional<DatePart> date_part;    // generalize(year|month|decade)
  int64_t bucket = 0;                   // generalize(N), when date_part is empty

  // The canonical expression, e.g. "partial(0, 'XXX-XX-', 4)".
  std::string ToString() const;
  bool operator==(const MaskSpec&) const = default;
};

std::string_view MaskKindName(MaskKind kind);

// Parses a mask expression. Error messages say what is wrong without a location; the loader
// adds file:line:column.
absl::StatusOr<MaskSpec> ParseMaskSpec(std::string_view text);

}  // namespace pgmask::policy
