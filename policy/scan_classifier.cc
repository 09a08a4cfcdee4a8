#include "policy/scan_classifier.h"

#include <algorithm>

#include "policy/scan_detectors.h"

namespace pgmask::policy {
namespace {

constexpr uint32_t kEmbeddedPii = kEmbeddedEmail | kEmbeddedPhone | kEmbeddedSsn | kEmbeddedCard;

// Share of sampled values a detector must accept for the values alone to classify a column.
// Checksummed and strictly shaped values (e-mail, card, IBAN, IP, SSN, phone) rarely match by
// accident; names, addresses and ICD-10 shapes (a letter and two digits) do more often.
double ValuesOnlyThreshold(Category c) {
  switch (c) {
    case Category::kPersonName:
    case Category::kStreetAddress:
      return 0.7;
    case Category::kMedicalCode:
      return 0.8;
    default:
      return 0.6;
  }
}

bool TypeAllows(TypeFamily family, Category c) {
  switch (family) {
    case TypeFamily::kText:
      return true;
    case TypeFamily::kNumber:
      return c == Category::kPhone || c == Category::kSsn || c == Category::kCardNumber;
    case TypeFamily::kDate:
      return c == Category::kDateOfBirth;
    case TypeFamily::kNetwork:
      return c == Category::kIpAddress;
    case TypeFamily::kOther:
      return false;
  }
  return false;
}

}  // namespace

TypeFamily TypeFamilyOf(char category, std::string_view type_name) {
  switch (category) {
    case 'S':
      return TypeFamily::kText;
    case 'N':
      return TypeFamily::kNumber;
    case 'D':
      return type_name == "date" || type_name == "timestamp" || type_name == "timestamptz" ? TypeFamily::kDate
                                                                                             : TypeFamily::kOther;
    case 'I':
      return TypeFamily::kNetwork;
    default:
      return TypeFamily::kOther;
  }
}

std::string_view EvidenceName(Evidence evidence) {
  switch (evidence) {
    case Evidence::kName:
      return "name";
    case Evidence::kValues:
      return "values";
    case Evidence::kBoth:
      return "both";
  }
  return "name";
}

ColumnProfile::ColumnProfile(std::string_view column_name, TypeFamily family) : family_(family) {
  const std::vector<std::string> words = ColumnNameWords(column_name);
  for (int c = 0; c < kCategoryCount; ++c) {
    const auto category = static_cast<Category>(c);
    hints_[c] = TypeAllows(family, category) ? ColumnNameHint(words, category) : NameHint::kNone;
  }
}

void ColumnProfile::Add(std::optional<std::string_view> value) {
  if (!value.has_value() || family_ == TypeFamily::kOther) return;
  const std::string_view v = value->substr(0, kMaxScannedValueBytes);
  ++non_null_;
  auto count = [&](Category c, bool matched) {
    if (matched) ++matched_[static_cast<int>(c)];
  };
  auto hinted = [&](Category c) { return hints_[static_cast<int>(c)] != NameHint::kNone; };
  if (family_ == TypeFamily::kDate) {
    count(Category::kDateOfBirth, true);
    return;
  }
  if (family_ == TypeFamily::kNetwork) {
    count(Category::kIpAddress, IsIpAddress(v));
    return;
  }
  // Bare digits are a phone number or an SSN only under a name that says so.
  count(Category::kPhone, IsPhoneNumber(v) || (hinted(Category::kPhone) && IsBarePhoneDigits(v)));
  const SsnShape ssn = ClassifySsn(v, hinted(Category::kSsn));
  count(Category::kSsn, ssn == SsnShape::kValid);
  if (ssn == SsnShape::kInvalid) ++invalid_ssn_;
  count(Category::kCardNumber, IsCardNumber(v));
  if (family_ == TypeFamily::kNumber) return;
  count(Category::kEmail, IsEmailAddress(v));
  count(Category::kIban, IsIban(v));
  count(Category::kIpAddress, IsIpAddress(v));
  count(Category::kDateOfBirth, IsDate(v));
  count(Category::kPersonName, IsPersonName(v));
  count(Category::kStreetAddress, IsStreetAddress(v));
  count(Category::kMedicalCode, IsMedicalCode(v));
  const bool prose = IsFreeText(v);
  count(Category::kFreeText, prose);
  if (prose) {
    const uint32_t inside = FindEmbeddedIdentifiers(v);
    embedded_ |= inside;
    if ((inside & kEmbeddedPii) != 0) ++with_embedded_pii_;
  }
}

ColumnProfile::Score ColumnProfile::Combine(Category category, double ratio) const {
  switch (hints_[static_cast<int>(category)]) {
    case NameHint::kStrong:
      if (non_null_ == 0) return {0.6, Evidence::kName};  // empty: nothing contradicts the name
      if (ratio >= 0.2) return {0.8 + 0.19 * ratio, Evidence::kBoth};
      // Values that do not look the part (hashed, encrypted, placeholders): still worth review.
      return {0.5, Evidence::kName};
    case NameHint::kWeak:
      if (ratio >= 0.3) return {0.7 + 0.25 * ratio, Evidence::kBoth};
      break;
    case NameHint::kNone:
      break;
  }
  if (non_null_ > 0 && ratio >= ValuesOnlyThreshold(category)) return {0.5 + 0.4 * ratio, Evidence::kValues};
  return {};
}

std::optional<ColumnProfile::Score> ColumnProfile::FreeTextScore() const {
  const NameHint hint = hints_[static_cast<int>(Category::kFreeText)];
  const double prose = non_null_ == 0 ? 0 : static_cast<double>(matched_[static_cast<int>(Category::kFreeText)]) /
                                                static_cast<double>(non_null_);
  // Prose with identifiers inside is personal data whatever the column is called; prose without
  // them only under a notes-like name (product descriptions are prose too).
  if (with_embedded_pii_ > 0 && prose >= 0.3) {
    return Score{hint == NameHint::kNone ? 0.8 : 0.95, hint == NameHint::kNone ? Evidence::kValues : Evidence::kBoth};
  }
  if (hint != NameHint::kStrong) return std::nullopt;
  if (non_null_ == 0) return Score{0.6, Evidence::kName};
  if (prose >= 0.3) return Score{0.75, Evidence::kBoth};
  return Score{0.5, Evidence::kName};
}

std::optional<ColumnProfile::Score> ColumnProfile::DateOfBirthScore() const {
  // A birth date looks like any other date: the name must say so.
  if (hints_[static_cast<int>(Category::kDateOfBirth)] != NameHint::kStrong) return std::nullopt;
  if (non_null_ == 0) return Score{0.6, Evidence::kName};
  const double dates = static_cast<double>(matched_[static_cast<int>(Category::kDateOfBirth)]) /
                       static_cast<double>(non_null_);
  if (dates >= 0.8) return Score{0.95, Evidence::kBoth};
  return Score{0.5, Evidence::kName};
}

std::optional<Finding> ColumnProfile::Classify() const {
  std::optional<Finding> best;
  for (int c = 0; c < kCategoryCount; ++c) {
    const auto category = static_cast<Category>(c);
    if (!TypeAllows(family_, category)) continue;
    size_t matched = matched_[c];
    // A real SSN column holds no never-issued numbers: more than a few of them mean order or
    // reference numbers in the SSN's shape, unless the name says SSN.
    if (category == Category::kSsn && hints_[c] == NameHint::kNone && invalid_ssn_ * 20 > matched + invalid_ssn_) {
      matched = 0;
    }
    const double ratio = non_null_ == 0 ? 0 : static_cast<double>(matched) / static_cast<double>(non_null_);
    std::optional<Score> score;
    if (category == Category::kFreeText) {
      score = FreeTextScore();
    } else if (category == Category::kDateOfBirth) {
      score = DateOfBirthScore();
    } else {
      score = Combine(category, ratio);
    }
    if (!score || score->confidence < kReportConfidence) continue;
    if (best && best->confidence >= score->confidence) continue;
    best = Finding{category, std::string(Info(category).class_name), std::min(score->confidence, 0.99),
                   score->evidence, non_null_, matched, category == Category::kFreeText ? embedded_ : 0};
  }
  return best;
}

void AdjustForTable(std::vector<std::optional<Finding>>& findings) {
  const bool medical = std::any_of(findings.begin(), findings.end(), [](const std::optional<Finding>& f) {
    return f && (f->category == Category::kMedicalCode || (f->embedded & kEmbeddedMedicalCode) != 0);
  });
  if (!medical) return;
  for (std::optional<Finding>& f : findings) {
    if (f && f->category == Category::kFreeText) f->class_name = "PHI";
  }
}

}  // namespace pgmask::policy
