// `pgmask scan`'s judgement of one column: column-name evidence (scan_column_names.h) and value
// evidence (scan_detectors.h) combined into at most one finding with a confidence. A profile
// keeps counts only: the sampled values pass through Add and are never stored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/scan_category.h"
#include "policy/scan_column_names.h"

namespace pgmask::policy {

// What the column's type allows it to hold; from pg_type (typcategory, typname).
enum class TypeFamily { kText, kNumber, kDate, kNetwork, kOther };
// `category` is pg_type.typcategory of the column's type (a domain has its base type's);
// `type_name` its typname. Arrays, composites, json, bool, bytea, uuid, time and intervals are
// kOther: not scanned.
TypeFamily TypeFamilyOf(char category, std::string_view type_name);

enum class Evidence { kName, kValues, kBoth };
std::string_view EvidenceName(Evidence evidence);

// Findings below this confidence are not reported.
inline constexpr double kReportConfidence = 0.5;

struct Finding {
  Category category = Category::kEmail;
  std::string class_name;     // suggested classification (Info(category).class_name, or PHI)
  double confidence = 0;      // 0.5 .. 0.99
  Evidence evidence = Evidence::kName;
  size_t sampled = 0;         // non-null values looked at
  size_t matched = 0;         // of them, values the category's detector accepted
  uint32_t embedded = 0;      // free text: EmbeddedKind bits found inside the values
};

class ColumnProfile {
 public:
  ColumnProfile(std::string_view column_name, TypeFamily family);

  // One sampled value; nullopt for SQL NULL (not counted).
  void Add(std::optional<std::string_view> value);
  std::optional<Finding> Classify() const;

 private:
  struct Score {
    double confidence = 0;
    Evidence evidence = Evidence::kName;
  };
  Score Combine(Category category, double ratio) const;
  std::optional<Score> FreeTextScore() const;
  std::optional<Score> DateOfBirthScore() const;

  TypeFamily family_;
  std::array<NameHint, kCategoryCount> hints_{};
  size_t non_null_ = 0;
  std::array<size_t, kCategoryCount> matched_{};
  size_t invalid_ssn_ = 0;          // SSN-shaped values in never-issued ranges
  size_t with_embedded_pii_ = 0;    // prose values with an e-mail, phone, SSN or card inside
  uint32_t embedded_ = 0;
};

// Per-table adjustment: free-text notes in a table that also holds medical codes are health
// information (PHI), not just PII.
void AdjustForTable(std::vector<std::optional<Finding>>& findings);

}  // namespace pgmask::policy
