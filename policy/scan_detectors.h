// Value detectors for `pgmask scan`: pure checks of one sampled value (as PostgreSQL's text
// output), no I/O. Each recognises the whole value unless its name says "Contains". Values longer
// than kMaxScannedValueBytes are judged on their first kMaxScannedValueBytes bytes (the CLI reads
// no more than that per value), so every check is linear in a bounded input.
//
// Hand-written rather than from a library: the checksums (Luhn, IBAN mod-97) and the SSN
// ranges are a few lines each, and the phone check is a shape check on purpose (see IsPhoneNumber).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgmask::policy {

inline constexpr size_t kMaxScannedValueBytes = 1024;

// local@domain.tld with the characters addresses use in practice; at most 254 bytes.
bool IsEmailAddress(std::string_view value);

// A phone number as people write it: E.164 ("+" then 8 to 15 digits, separators allowed) or a
// national format with separators: NANP (10 digits, or 11 starting with 1) or a trunk prefix 0
// followed by 8 to 10 more digits. Bare digit strings are not phone numbers here (ids and order
// numbers are); the classifier accepts them only under a phone-like column name. Deliberately
// not a numbering-plan check (libphonenumber's IsValidNumber): fictional and unassigned ranges
// such as 555 are still personal data in the shape of a phone number.
bool IsPhoneNumber(std::string_view value);
// Only the digits of a phone-shaped value without separators: 10 to 15 digits, optional "+".
bool IsBarePhoneDigits(std::string_view value);

enum class SsnShape { kNone, kValid, kInvalid };
// A US SSN written AAA-GG-SSSS (or with spaces): kValid when the number could have been issued
// (area not 000, 666 or 900-999; group not 00; serial not 0000; not a known advertising number),
// kInvalid when it has the shape but not the ranges. `allow_bare` also accepts nine bare digits.
SsnShape ClassifySsn(std::string_view value, bool allow_bare);

// 13 to 19 digits (spaces or dashes between groups allowed) with a valid Luhn check digit and a
// known issuer prefix (2-6).
bool IsCardNumber(std::string_view value);
// The Luhn check over the digits of `digits` (all characters must be digits).
bool LuhnValid(std::string_view digits);

// An IBAN (spaces allowed): country letters, check digits, 11-30 alphanumerics, mod 97 == 1.
bool IsIban(std::string_view value);

// An IPv4 or IPv6 address, optionally with a /prefix (PostgreSQL's inet text output has one).
bool IsIpAddress(std::string_view value);

// A calendar date at the start of the value: YYYY-MM-DD (what date and timestamp columns print)
// or MM/DD/YYYY, with a valid month and day.
bool IsDate(std::string_view value);

// One to four capitalised words (letters, hyphens, apostrophes) of which at least one is in the
// common first/last name list (scan_person_names.h): "Ada Lovelace", "O'Brien, Mary".
bool IsPersonName(std::string_view value);

// A street address: a house number and a street-type word ("12 Oak Ave", "Hauptstraße 5",
// "221B Baker Street, London").
bool IsStreetAddress(std::string_view value);

// An ICD-10 code shape (a capital letter, a digit, a digit or letter, optional .1-4 alphanumerics) as the
// whole value or its first word ("E11.9 Type 2 diabetes").
bool IsMedicalCode(std::string_view value);

// Prose: at least 4 words and 20 bytes, mostly letters and spaces.
bool IsFreeText(std::string_view value);

// Identifiers found inside prose, as a bit set of the detectors above.
enum EmbeddedKind : uint32_t {
  kEmbeddedEmail = 1u << 0,
  kEmbeddedPhone = 1u << 1,
  kEmbeddedSsn = 1u << 2,
  kEmbeddedCard = 1u << 3,
  kEmbeddedMedicalCode = 1u << 4,
};
uint32_t FindEmbeddedIdentifiers(std::string_view text);

}  // namespace pgmask::policy
