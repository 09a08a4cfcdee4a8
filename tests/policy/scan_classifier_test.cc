#include "policy/scan_classifier.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "policy/scan_detectors.h"

namespace pgmask::policy {
namespace {

std::optional<Finding> Classify(std::string_view column, TypeFamily family, const std::vector<std::string>& values,
                                size_t nulls = 0) {
  ColumnProfile profile(column, family);
  for (const std::string& v : values) profile.Add(v);
  for (size_t i = 0; i < nulls; ++i) profile.Add(std::nullopt);
  return profile.Classify();
}

std::vector<std::string> Repeat(std::initializer_list<std::string> values, size_t times) {
  std::vector<std::string> out;
  for (size_t i = 0; i < times; ++i) out.insert(out.end(), values.begin(), values.end());
  return out;
}

TEST(ScanClassifierTest, ColumnNameWords) {
  EXPECT_EQ(ColumnNameWords("billingEmail_2"), (std::vector<std::string>{"billing", "email", "2"}));
  EXPECT_EQ(ColumnNameWords("DATE_OF_BIRTH"), (std::vector<std::string>{"date", "of", "birth"}));
  EXPECT_EQ(ColumnNameWords(""), std::vector<std::string>{});
  EXPECT_EQ(ColumnNameWords(std::string(100, '_') + "x").size(), 1u);
  EXPECT_LE(ColumnNameWords("a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s").size(), 16u);
}

TEST(ScanClassifierTest, NameHints) {
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("email"), Category::kEmail), NameHint::kStrong);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("contact_mail"), Category::kEmail), NameHint::kWeak);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("email_address"), Category::kStreetAddress), NameHint::kNone);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("home_address"), Category::kStreetAddress), NameHint::kStrong);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("cardNumber"), Category::kCardNumber), NameHint::kStrong);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("card_type"), Category::kCardNumber), NameHint::kWeak);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("dob"), Category::kDateOfBirth), NameHint::kStrong);
  EXPECT_EQ(ColumnNameHint(ColumnNameWords("shipped_at"), Category::kDateOfBirth), NameHint::kNone);
}

TEST(ScanClassifierTest, TypeFamilies) {
  EXPECT_EQ(TypeFamilyOf('S', "text"), TypeFamily::kText);
  EXPECT_EQ(TypeFamilyOf('N', "int8"), TypeFamily::kNumber);
  EXPECT_EQ(TypeFamilyOf('D', "date"), TypeFamily::kDate);
  EXPECT_EQ(TypeFamilyOf('D', "time"), TypeFamily::kOther);
  EXPECT_EQ(TypeFamilyOf('I', "inet"), TypeFamily::kNetwork);
  EXPECT_EQ(TypeFamilyOf('B', "bool"), TypeFamily::kOther);
  EXPECT_EQ(TypeFamilyOf('A', "_text"), TypeFamily::kOther);
  EXPECT_EQ(TypeFamilyOf('\0', ""), TypeFamily::kOther);
}

TEST(ScanClassifierTest, NameAndValuesAgree) {
  auto f = Classify("email", TypeFamily::kText, Repeat({"ada@example.com", "ben@example.org"}, 10));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kEmail);
  EXPECT_EQ(f->evidence, Evidence::kBoth);
  EXPECT_EQ(f->class_name, "PII");
  EXPECT_EQ(f->sampled, 20u);
  EXPECT_EQ(f->matched, 20u);
  EXPECT_GT(f->confidence, 0.9);
}

TEST(ScanClassifierTest, ValuesAloneUnderAnUnhelpfulName) {
  auto f = Classify("c7", TypeFamily::kText, Repeat({"4111111111111111", "5500 0000 0000 0004"}, 10));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kCardNumber);
  EXPECT_EQ(f->evidence, Evidence::kValues);
  EXPECT_EQ(f->class_name, "PCI");
}

TEST(ScanClassifierTest, NullsDoNotCount) {
  auto f = Classify("c7", TypeFamily::kText, Repeat({"ada@example.com"}, 5), 50);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->sampled, 5u);
  EXPECT_EQ(f->category, Category::kEmail);
}

TEST(ScanClassifierTest, NameAloneOnAnEmptyTable) {
  auto f = Classify("ssn", TypeFamily::kText, {});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kSsn);
  EXPECT_EQ(f->evidence, Evidence::kName);
  EXPECT_DOUBLE_EQ(f->confidence, 0.6);
}

TEST(ScanClassifierTest, OrderNumbersInTheSsnShapeAreNotSsns) {
  // Most are in never-issued ranges; the rest pass by chance.
  auto f = Classify("order_ref", TypeFamily::kText, Repeat({"912-34-5678", "987-65-4321", "123-45-6789"}, 10));
  EXPECT_FALSE(f) << Info(f->category).name;
}

TEST(ScanClassifierTest, CardLikeNumbersFailingLuhnAreNotCards) {
  auto f = Classify("tracking_no", TypeFamily::kText, Repeat({"4111111111111112", "5500000000000005"}, 10));
  EXPECT_FALSE(f) << Info(f->category).name;
}

TEST(ScanClassifierTest, BareDigitsNeedAName) {
  EXPECT_FALSE(Classify("code", TypeFamily::kNumber, Repeat({"4155552671", "2125550100"}, 5)));
  auto f = Classify("mobile", TypeFamily::kNumber, Repeat({"4155552671", "2125550100"}, 5));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kPhone);
  EXPECT_EQ(f->evidence, Evidence::kBoth);
}

TEST(ScanClassifierTest, DateOfBirthNeedsTheName) {
  EXPECT_FALSE(Classify("shipped_on", TypeFamily::kDate, Repeat({"1985-07-14"}, 10)));
  auto f = Classify("date_of_birth", TypeFamily::kDate, Repeat({"1985-07-14"}, 10));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kDateOfBirth);
  EXPECT_EQ(f->class_name, "PHI");
  EXPECT_EQ(f->evidence, Evidence::kBoth);
}

TEST(ScanClassifierTest, TypesThatCannotHoldTheCategoryAreIgnored) {
  EXPECT_FALSE(Classify("email_verified", TypeFamily::kOther, {"t", "f"}));
  EXPECT_FALSE(Classify("email_count", TypeFamily::kNumber, {"1", "2"}));
}

TEST(ScanClassifierTest, NotesWithEmailsInsideAreFreeTextWithPii) {
  auto f = Classify("notes", TypeFamily::kText,
                    Repeat({"Called the customer, new address is ada@example.com please update.",
                            "Customer asked for a refund by the end of the month."},
                           10));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kFreeText);
  EXPECT_EQ(f->embedded, static_cast<uint32_t>(kEmbeddedEmail));
  EXPECT_EQ(f->evidence, Evidence::kBoth);
  EXPECT_GT(f->confidence, 0.9);
}

TEST(ScanClassifierTest, ProseWithoutIdentifiersNeedsANotesName) {
  const auto prose = Repeat({"A sturdy oak table with a walnut finish and four legs."}, 10);
  EXPECT_FALSE(Classify("blurb", TypeFamily::kText, prose));
  auto f = Classify("remarks", TypeFamily::kText, prose);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kFreeText);
  EXPECT_EQ(f->embedded, 0u);
}

TEST(ScanClassifierTest, ProductNamesAreNotPersonNames) {
  EXPECT_FALSE(Classify("name", TypeFamily::kText, Repeat({"Maple Syrup", "Oak Table", "Pine Chair"}, 5)));
  auto f = Classify("name", TypeFamily::kText, Repeat({"Ada Abara", "Maria Garcia", "Zebulon Quist"}, 5));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->category, Category::kPersonName);
}

TEST(ScanClassifierTest, FreeTextBesideMedicalCodesIsPhi) {
  std::vector<std::optional<Finding>> findings;
  findings.push_back(Classify("diagnosis", TypeFamily::kText, Repeat({"E11.9 Type 2 diabetes"}, 5)));
  findings.push_back(Classify("notes", TypeFamily::kText, Repeat({"Patient reports improvement since last visit."}, 5)));
  findings.push_back(std::nullopt);
  ASSERT_TRUE(findings[0] && findings[1]);
  EXPECT_EQ(findings[1]->class_name, "PII");
  AdjustForTable(findings);
  EXPECT_EQ(findings[0]->class_name, "PHI");
  EXPECT_EQ(findings[1]->class_name, "PHI");
}

TEST(ScanClassifierTest, HugeValuesAreCapped) {
  ColumnProfile profile("notes", TypeFamily::kText);
  profile.Add(std::string(1 << 20, 'x'));
  profile.Add(std::string_view());
  auto f = profile.Classify();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->evidence, Evidence::kName);
}

}  // namespace
}  // namespace pgmask::policy
