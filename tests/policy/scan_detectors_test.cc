#include "policy/scan_detectors.h"

#include <gtest/gtest.h>

#include <string>

#include "policy/scan_person_names.h"

namespace pgmask::policy {
namespace {

struct Case {
  std::string name;
  std::string value;
  bool expected;
};

std::string CaseName(const testing::TestParamInfo<Case>& info) { return info.param.name; }

// Inputs every detector must survive: empty, huge, truncated, binary.
const std::string kGarbage[] = {
    "", " ", std::string(1, '\0'), std::string(5000, '9'), std::string(100000, '@'), "\xff\xfe\xfd",
    std::string("1\0002.3.4", 7), "+", "(", ")", "-", "@.", "a@", "@b.com", std::string(3000, ' ') + "x",
};

TEST(ScanDetectorsTest, GarbageIsNothing) {
  for (const std::string& g : kGarbage) {
    EXPECT_FALSE(IsEmailAddress(g)) << g.size();
    EXPECT_FALSE(IsPhoneNumber(g)) << g.size();
    EXPECT_FALSE(IsBarePhoneDigits(g)) << g.size();
    EXPECT_EQ(ClassifySsn(g, true), SsnShape::kNone) << g.size();
    EXPECT_FALSE(IsCardNumber(g)) << g.size();
    EXPECT_FALSE(IsIban(g)) << g.size();
    EXPECT_FALSE(IsIpAddress(g)) << g.size();
    EXPECT_FALSE(IsDate(g)) << g.size();
    EXPECT_FALSE(IsPersonName(g)) << g.size();
    EXPECT_FALSE(IsStreetAddress(g)) << g.size();
    EXPECT_FALSE(IsMedicalCode(g)) << g.size();
    EXPECT_FALSE(IsFreeText(g)) << g.size();
    EXPECT_EQ(FindEmbeddedIdentifiers(g), 0u) << g.size();
  }
}

TEST(ScanDetectorsTest, OversizedValuesAreJudgedOnTheirCappedPrefix) {
  // Prose longer than the cap: still prose, and an e-mail past the cap is not seen.
  std::string long_text;
  while (long_text.size() < 2 * kMaxScannedValueBytes) long_text += "the patient was seen today and ";
  EXPECT_TRUE(IsFreeText(long_text));
  EXPECT_EQ(FindEmbeddedIdentifiers(long_text + " ada@example.com"), 0u);
  EXPECT_EQ(FindEmbeddedIdentifiers("write to ada@example.com " + long_text), kEmbeddedEmail);
}

class EmailTest : public testing::TestWithParam<Case> {};
TEST_P(EmailTest, Detects) { EXPECT_EQ(IsEmailAddress(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, EmailTest,
    testing::Values(Case{"Plain", "ada@example.com", true}, Case{"Subdomain", "a.b+tag@mail.example.org", true},
                    Case{"Padded", "  ada@example.com ", true}, Case{"NoTld", "ada@localhost", false},
                    Case{"NumericTld", "ada@example.123", false}, Case{"TwoAts", "a@b@example.com", false},
                    Case{"DotStart", ".ada@example.com", false}, Case{"DoubleDot", "a..b@example.com", false},
                    Case{"HyphenLabel", "ada@-example.com", false}, Case{"Space", "ada lovelace@example.com", false},
                    Case{"LongLocal", std::string(65, 'a') + "@example.com", false},
                    Case{"Truncated", "ada@example.", false}, Case{"Prose", "mail ada@example.com now", false}),
    CaseName);

class PhoneTest : public testing::TestWithParam<Case> {};
TEST_P(PhoneTest, Detects) { EXPECT_EQ(IsPhoneNumber(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, PhoneTest,
    testing::Values(Case{"E164", "+14155552671", true}, Case{"E164Spaced", "+44 20 7946 0958", true},
                    Case{"Demo", "+1-555-123-4567", true}, Case{"Nanp", "(415) 555-2671", true},
                    Case{"NanpDots", "415.555.2671", true}, Case{"NanpOne", "1-415-555-2671", true},
                    Case{"Trunk", "020 7946 0958", true}, Case{"German", "030 1234567", true},
                    Case{"BareDigits", "4155552671", false}, Case{"Ssn", "123-45-6789", false},
                    Case{"Date", "2024-01-02", false}, Case{"Ip", "10.100.200.123", false},
                    Case{"TooShortPlus", "+1234567", false}, Case{"TooLongPlus", "+1234567890123456", false},
                    Case{"Letters", "+1 555 CALL NOW", false}, Case{"Unbalanced", "(415 555-2671", false},
                    Case{"NanpStartsWithOne", "115-555-2671", false}, Case{"PlusZero", "+0 20 7946 0958", false}),
    CaseName);

TEST(ScanDetectorsTest, BarePhoneDigits) {
  EXPECT_TRUE(IsBarePhoneDigits("4155552671"));
  EXPECT_TRUE(IsBarePhoneDigits("+4915112345678"));
  EXPECT_FALSE(IsBarePhoneDigits("123456789"));
  EXPECT_FALSE(IsBarePhoneDigits("1234567890123456"));
  EXPECT_FALSE(IsBarePhoneDigits("415-555-2671"));
}

struct SsnCase {
  std::string name;
  std::string value;
  bool allow_bare;
  SsnShape expected;
};
class SsnTest : public testing::TestWithParam<SsnCase> {};
TEST_P(SsnTest, Classifies) { EXPECT_EQ(ClassifySsn(GetParam().value, GetParam().allow_bare), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, SsnTest,
    testing::Values(SsnCase{"Valid", "123-45-6789", false, SsnShape::kValid},
                    SsnCase{"Spaces", "123 45 6789", false, SsnShape::kValid},
                    SsnCase{"MixedSeparators", "123-45 6789", false, SsnShape::kNone},
                    SsnCase{"Area000", "000-45-6789", false, SsnShape::kInvalid},
                    SsnCase{"Area666", "666-45-6789", false, SsnShape::kInvalid},
                    SsnCase{"Area9xx", "912-45-6789", false, SsnShape::kInvalid},
                    SsnCase{"Group00", "123-00-6789", false, SsnShape::kInvalid},
                    SsnCase{"Serial0000", "123-45-0000", false, SsnShape::kInvalid},
                    SsnCase{"Woolworth", "078-05-1120", false, SsnShape::kInvalid},
                    SsnCase{"BareRefused", "123456789", false, SsnShape::kNone},
                    SsnCase{"BareAllowed", "123456789", true, SsnShape::kValid},
                    SsnCase{"BareInvalid", "987654321", true, SsnShape::kInvalid},
                    SsnCase{"Truncated", "123-45-678", false, SsnShape::kNone},
                    SsnCase{"Letters", "12a-45-6789", false, SsnShape::kNone}),
    [](const testing::TestParamInfo<SsnCase>& info) { return info.param.name; });

class CardTest : public testing::TestWithParam<Case> {};
TEST_P(CardTest, Detects) { EXPECT_EQ(IsCardNumber(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, CardTest,
    testing::Values(Case{"Visa", "4111111111111111", true}, Case{"Spaced", "4111 1111 1111 1111", true},
                    Case{"Dashed", "5500-0000-0000-0004", true}, Case{"Amex", "378282246310005", true},
                    Case{"LuhnFails", "4111111111111112", false}, Case{"WrongIssuer", "0000000000000000", false},
                    Case{"TooShort", "411111111111", false}, Case{"TooLong", "41111111111111111111", false},
                    Case{"DoubleSeparator", "4111  1111 1111 1111", false},
                    Case{"TrailingSeparator", "4111111111111111-", false}),
    CaseName);

TEST(ScanDetectorsTest, Luhn) {
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("7992x398713"));
}

class IbanTest : public testing::TestWithParam<Case> {};
TEST_P(IbanTest, Detects) { EXPECT_EQ(IsIban(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, IbanTest,
    testing::Values(Case{"German", "DE89370400440532013000", true}, Case{"Grouped", "GB82 WEST 1234 5698 7654 32", true},
                    Case{"Norway", "NO9386011117947", true}, Case{"BadCheck", "DE89370400440532013001", false},
                    Case{"Lower", "de89370400440532013000", false}, Case{"TooShort", "DE8937040044", false},
                    Case{"NoCountry", "1289370400440532013000", false}, Case{"DoubleSpace", "GB82  WEST 1234 5698 7654 32", false}),
    CaseName);

class IpTest : public testing::TestWithParam<Case> {};
TEST_P(IpTest, Detects) { EXPECT_EQ(IsIpAddress(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, IpTest,
    testing::Values(Case{"V4", "192.168.1.20", true}, Case{"V4Prefix", "10.0.0.1/32", true},
                    Case{"V6", "2001:db8::1", true}, Case{"V6Prefix", "2001:db8::/32", true},
                    Case{"OutOfRange", "256.1.1.1", false}, Case{"ThreeParts", "1.2.3", false},
                    Case{"BadPrefix", "10.0.0.1/abc", false}, Case{"Version", "1.2.3.4.5", false},
                    Case{"Word", "localhost", false}),
    CaseName);

class DateTest : public testing::TestWithParam<Case> {};
TEST_P(DateTest, Detects) { EXPECT_EQ(IsDate(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, DateTest,
    testing::Values(Case{"Iso", "1985-07-14", true}, Case{"Timestamp", "1985-07-14 10:00:00+00", true},
                    Case{"Us", "07/14/1985", true}, Case{"LeapDay", "2000-02-29", true},
                    Case{"NotLeap", "1900-02-29", false}, Case{"Month13", "1985-13-01", false},
                    Case{"Truncated", "1985-07-1", false}, Case{"Text", "yesterday", false}),
    CaseName);

class PersonNameTest : public testing::TestWithParam<Case> {};
TEST_P(PersonNameTest, Detects) { EXPECT_EQ(IsPersonName(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, PersonNameTest,
    testing::Values(Case{"FirstLast", "Ada Abara", true}, Case{"LastCommaFirst", "Garcia, Maria", true},
                    Case{"Hyphenated", "Anne-Claire Dubois", true}, Case{"Initial", "J. Smith", true},
                    Case{"Apostrophe", "Sean O'Brien", true}, Case{"Unknown", "Zebulon Quackenbush", false},
                    Case{"Lowercase", "maria garcia", false}, Case{"Product", "Maple Syrup", false},
                    Case{"TooManyWords", "Maria Anna Sofia Luisa Garcia", false}, Case{"Digits", "Maria 2", false}),
    CaseName);

TEST(ScanDetectorsTest, NameDictionary) {
  EXPECT_TRUE(IsCommonPersonName("maria"));
  EXPECT_TRUE(IsCommonPersonName("SMITH"));
  EXPECT_FALSE(IsCommonPersonName("table"));
  EXPECT_FALSE(IsCommonPersonName(""));
  EXPECT_FALSE(IsCommonPersonName(std::string(500, 'a')));
}

class AddressTest : public testing::TestWithParam<Case> {};
TEST_P(AddressTest, Detects) { EXPECT_EQ(IsStreetAddress(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, AddressTest,
    testing::Values(Case{"Demo", "123 Maple St, Springfield", true}, Case{"Baker", "221B Baker Street, London", true},
                    Case{"German", "Hauptstraße 5, Berlin", true}, Case{"Range", "12-14 Oak Avenue", true},
                    Case{"NoNumber", "Maple St", false}, Case{"NoStreet", "123 Springfield", false},
                    Case{"JustNumber", "12345", false}, Case{"Prose", "we met on 5 streets over", false}),
    CaseName);

class MedicalCodeTest : public testing::TestWithParam<Case> {};
TEST_P(MedicalCodeTest, Detects) { EXPECT_EQ(IsMedicalCode(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, MedicalCodeTest,
    testing::Values(Case{"WithText", "E11.9 Type 2 diabetes mellitus", true}, Case{"Bare", "I10", true},
                    Case{"Long", "J45.909", true}, Case{"LetterThird", "M1A.0", true}, Case{"EmergencyUse", "U07.1", true},
                    Case{"NoDigit", "EAB.1", false}, Case{"DotOnly", "E11.", false}, Case{"TooLong", "E11.12345", false},
                    Case{"Lower", "e11.9", false}),
    CaseName);

class FreeTextTest : public testing::TestWithParam<Case> {};
TEST_P(FreeTextTest, Detects) { EXPECT_EQ(IsFreeText(GetParam().value), GetParam().expected); }
INSTANTIATE_TEST_SUITE_P(
    Scan, FreeTextTest,
    testing::Values(Case{"Note", "Patient reports improvement. Follow-up in 3 weeks.", true},
                    Case{"Short", "see notes", false}, Case{"Address", "221B Baker Street, London NW1", false},
                    Case{"Codes", "AB-12 CD-34 EF-56 GH-78 IJ-90", false}),
    CaseName);

TEST(ScanDetectorsTest, EmbeddedIdentifiers) {
  EXPECT_EQ(FindEmbeddedIdentifiers("Call me at +1 415 555 2671 tomorrow."), kEmbeddedPhone);
  EXPECT_EQ(FindEmbeddedIdentifiers("Reach the patient (ada@example.com)."), kEmbeddedEmail);
  EXPECT_EQ(FindEmbeddedIdentifiers("card 4111 1111 1111 1111 was declined"), kEmbeddedCard);
  EXPECT_EQ(FindEmbeddedIdentifiers("ssn 123-45-6789 on file"), kEmbeddedSsn);
  EXPECT_EQ(FindEmbeddedIdentifiers("ref 912-45-6789 on file"), 0u);
  EXPECT_EQ(FindEmbeddedIdentifiers("diagnosed E11.9 today"), kEmbeddedMedicalCode);
  EXPECT_EQ(FindEmbeddedIdentifiers("Follow-up in 3 weeks."), 0u);
}

}  // namespace
}  // namespace pgmask::policy
