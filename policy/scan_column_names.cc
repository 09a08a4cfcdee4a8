#include "policy/scan_column_names.h"

#include "absl/strings/ascii.h"

namespace pgmask::policy {
namespace {

constexpr size_t kMaxWords = 16;

// A name matches when it contains `first` (and `second` right after it, when given) as words.
struct Rule {
  Category category;
  NameHint hint;
  std::string_view first;
  std::string_view second;
};

constexpr NameHint S = NameHint::kStrong;
constexpr NameHint W = NameHint::kWeak;

constexpr Rule kRules[] = {
    {Category::kEmail, S, "email", ""},
    {Category::kEmail, S, "e", "mail"},
    {Category::kEmail, S, "emails", ""},
    {Category::kEmail, S, "emailaddress", ""},
    {Category::kEmail, W, "mail", ""},
    {Category::kPhone, S, "phone", ""},
    {Category::kPhone, S, "telephone", ""},
    {Category::kPhone, S, "tel", ""},
    {Category::kPhone, S, "mobile", ""},
    {Category::kPhone, S, "cellphone", ""},
    {Category::kPhone, S, "msisdn", ""},
    {Category::kPhone, S, "fax", ""},
    {Category::kPhone, S, "phonenumber", ""},
    {Category::kPhone, W, "cell", ""},
    {Category::kSsn, S, "ssn", ""},
    {Category::kSsn, S, "social", "security"},
    {Category::kSsn, S, "socialsecurity", ""},
    {Category::kSsn, W, "tax", "id"},
    {Category::kSsn, W, "taxid", ""},
    {Category::kSsn, W, "tin", ""},
    {Category::kCardNumber, S, "card", "number"},
    {Category::kCardNumber, S, "card", "no"},
    {Category::kCardNumber, S, "card", "num"},
    {Category::kCardNumber, S, "cardnumber", ""},
    {Category::kCardNumber, S, "credit", "card"},
    {Category::kCardNumber, S, "creditcard", ""},
    {Category::kCardNumber, S, "ccnum", ""},
    {Category::kCardNumber, S, "cc", "number"},
    {Category::kCardNumber, S, "cc", "num"},
    {Category::kCardNumber, S, "pan", ""},
    {Category::kCardNumber, W, "card", ""},
    {Category::kIban, S, "iban", ""},
    {Category::kIban, W, "account", "number"},
    {Category::kIban, W, "bank", "account"},
    {Category::kIban, W, "account", "no"},
    {Category::kIpAddress, S, "ip", ""},
    {Category::kIpAddress, S, "ipaddr", ""},
    {Category::kIpAddress, S, "ipaddress", ""},
    {Category::kIpAddress, S, "ipv4", ""},
    {Category::kIpAddress, S, "ipv6", ""},
    {Category::kIpAddress, S, "remote", "addr"},
    {Category::kIpAddress, S, "client", "addr"},
    {Category::kDateOfBirth, S, "dob", ""},
    {Category::kDateOfBirth, S, "birth", ""},
    {Category::kDateOfBirth, S, "birthday", ""},
    {Category::kDateOfBirth, S, "birthdate", ""},
    {Category::kDateOfBirth, S, "born", ""},
    {Category::kDateOfBirth, S, "dateofbirth", ""},
    {Category::kPersonName, S, "first", "name"},
    {Category::kPersonName, S, "last", "name"},
    {Category::kPersonName, S, "firstname", ""},
    {Category::kPersonName, S, "lastname", ""},
    {Category::kPersonName, S, "surname", ""},
    {Category::kPersonName, S, "full", "name"},
    {Category::kPersonName, S, "fullname", ""},
    {Category::kPersonName, S, "given", "name"},
    {Category::kPersonName, S, "family", "name"},
    {Category::kPersonName, S, "forename", ""},
    {Category::kPersonName, S, "middle", "name"},
    {Category::kPersonName, S, "maiden", "name"},
    {Category::kPersonName, S, "patient", "name"},
    {Category::kPersonName, S, "customer", "name"},
    {Category::kPersonName, W, "name", ""},
    {Category::kPersonName, W, "contact", ""},
    {Category::kStreetAddress, S, "street", ""},
    {Category::kStreetAddress, S, "address", ""},
    {Category::kStreetAddress, S, "addr", ""},
    {Category::kStreetAddress, S, "addressline", ""},
    {Category::kStreetAddress, S, "address1", ""},
    {Category::kStreetAddress, S, "address2", ""},
    {Category::kStreetAddress, W, "residence", ""},
    {Category::kStreetAddress, W, "location", ""},
    {Category::kMedicalCode, S, "diagnosis", ""},
    {Category::kMedicalCode, S, "diagnoses", ""},
    {Category::kMedicalCode, S, "icd", ""},
    {Category::kMedicalCode, S, "icd10", ""},
    {Category::kMedicalCode, S, "dx", ""},
    {Category::kMedicalCode, W, "condition", ""},
    {Category::kMedicalCode, S, "diag", ""},
    {Category::kFreeText, S, "notes", ""},
    {Category::kFreeText, S, "note", ""},
    {Category::kFreeText, S, "comment", ""},
    {Category::kFreeText, S, "comments", ""},
    {Category::kFreeText, S, "remark", ""},
    {Category::kFreeText, S, "remarks", ""},
    {Category::kFreeText, S, "memo", ""},
    {Category::kFreeText, S, "narrative", ""},
    {Category::kFreeText, W, "description", ""},
    {Category::kFreeText, W, "message", ""},
    {Category::kFreeText, W, "body", ""},
    {Category::kFreeText, W, "details", ""},
    {Category::kFreeText, W, "text", ""},
};

bool Contains(const std::vector<std::string>& words, std::string_view first, std::string_view second = {}) {
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] != first) continue;
    if (second.empty() || (i + 1 < words.size() && words[i + 1] == second)) return true;
  }
  return false;
}

// "email_address", "ip_address", "mac_address", "web_address" are not street addresses.
bool AddressOfSomethingElse(const std::vector<std::string>& words) {
  for (std::string_view w : {"email", "mail", "ip", "mac", "web", "url", "remote", "client", "wallet"}) {
    if (Contains(words, w)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ColumnNameWords(std::string_view column) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty() && words.size() < kMaxWords) words.push_back(absl::AsciiStrToLower(current));
    current.clear();
  };
  char previous = 0;
  for (const char c : column) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      flush();
    } else {
      if (absl::ascii_isupper(static_cast<unsigned char>(c)) && absl::ascii_islower(static_cast<unsigned char>(previous))) {
        flush();
      }
      current.push_back(c);
    }
    previous = c;
  }
  flush();
  return words;
}

NameHint ColumnNameHint(const std::vector<std::string>& words, Category category) {
  if (category == Category::kStreetAddress && AddressOfSomethingElse(words)) return NameHint::kNone;
  NameHint best = NameHint::kNone;
  for (const Rule& r : kRules) {
    if (r.category == category && r.hint > best && Contains(words, r.first, r.second)) best = r.hint;
  }
  return best;
}

}  // namespace pgmask::policy
