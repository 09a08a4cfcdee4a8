// What `pgmask scan` can find in a column, and what it suggests for each: the classification
// (the BRIEF's PII / PHI / PCI, plus FIN for bank accounts) and a mask that keeps the column's
// values valid for its type.
#pragma once

#include <string_view>

namespace pgmask::policy {

enum class Category {
  kEmail,
  kPhone,
  kSsn,
  kCardNumber,
  kIban,
  kIpAddress,
  kDateOfBirth,
  kPersonName,
  kStreetAddress,
  kMedicalCode,
  kFreeText,
};
inline constexpr int kCategoryCount = 11;

struct CategoryInfo {
  std::string_view name;         // in reports and JSON: "email", "card_number", ...
  std::string_view class_name;   // suggested classification
  std::string_view mask;         // suggested mask expression (mask_spec.h syntax)
};

const CategoryInfo& Info(Category category);

struct SuggestedClass {
  std::string_view name;
  std::string_view tier;
  std::string_view description;
};
// The classifications the draft declares, for every class_name above.
const SuggestedClass* FindSuggestedClass(std::string_view name);

}  // namespace pgmask::policy
