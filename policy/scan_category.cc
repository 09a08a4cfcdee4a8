#include "policy/scan_category.h"

namespace pgmask::policy {
namespace {

constexpr CategoryInfo kInfo[kCategoryCount] = {
    {"email", "PII", "email"},
    {"phone", "PII", "partial(0, '***-***-', 4)"},
    {"ssn", "PII", "partial(0, 'XXX-XX-', 4)"},
    {"card_number", "PCI", "partial(0, '************', 4)"},
    {"iban", "FIN", "partial(2, '****', 4)"},
    {"ip_address", "PII", "redact"},
    {"date_of_birth", "PHI", "generalize(year)"},
    {"person_name", "PII", "partial(1, '***', 0)"},
    {"street_address", "PII", "redact"},
    {"medical_code", "PHI", "redact"},
    // Notes can hold anything: redacted whole. The class is PII, or PHI when the table also
    // holds medical codes (the classifier decides, scan_classifier.h).
    {"free_text", "PII", "redact('[redacted]')"},
};

constexpr SuggestedClass kClasses[] = {
    {"PII", "confidential", "Personally identifying information"},
    {"PHI", "restricted", "Protected health information (HIPAA)"},
    {"PCI", "restricted", "Payment card data (PCI DSS)"},
    {"FIN", "restricted", "Bank account numbers"},
};

}  // namespace

const CategoryInfo& Info(Category category) { return kInfo[static_cast<int>(category)]; }

const SuggestedClass* FindSuggestedClass(std::string_view name) {
  for (const SuggestedClass& c : kClasses) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace pgmask::policy
