// Loads and validates a version 1 policy file (format: shared BRIEF, "The policy file").
// Every problem is collected, not just the first: the error status's message holds one
// `file:line:column: message` line per problem (1-based, from the YAML marks), joined by '\n'.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "policy/policy.h"

namespace pgmask::policy {

// Bigger files are refused before parsing: a real policy is a few kilobytes.
inline constexpr size_t kMaxPolicyFileBytes = size_t{16} << 20;
// Deep nesting is refused by yaml-cpp's own depth guard (2000 levels, a ParserException), and
// the loader only descends along the format's fixed shape, so nesting cannot exhaust the stack.
// Past this many errors the loader stops reporting (a garbage file would list thousands).
inline constexpr size_t kMaxReportedErrors = 100;

absl::StatusOr<std::shared_ptr<const Policy>> LoadPolicyFile(const std::string& path);

// `filename` only names the source in messages.
absl::StatusOr<std::shared_ptr<const Policy>> LoadPolicyString(std::string_view text,
                                                               std::string_view filename);

}  // namespace pgmask::policy
