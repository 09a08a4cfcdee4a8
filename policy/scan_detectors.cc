#include "policy/scan_detectors.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "policy/scan_person_names.h"

namespace pgmask::policy {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsNonAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
// Not strchr, which also finds the terminating NUL.
bool OneOf(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

std::string_view Trim(std::string_view v) {
  v = v.substr(0, kMaxScannedValueBytes);
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsSpace(v.back())) v.remove_suffix(1);
  return v;
}

int Digit(char c) { return c - '0'; }

// Splits on spaces and commas, skipping empty pieces; stops after `max` pieces (returns max + 1
// then, so callers can tell "too many").
template <size_t N>
size_t Words(std::string_view v, std::array<std::string_view, N>& out) {
  size_t n = 0;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (IsSpace(v[i]) || v[i] == ',')) ++i;
    const size_t start = i;
    while (i < v.size() && !IsSpace(v[i]) && v[i] != ',') ++i;
    if (i == start) break;
    if (n == N) return N + 1;
    out[n++] = v.substr(start, i - start);
  }
  return n;
}

bool EmailLocalChar(char c) { return IsAlnum(c) || OneOf(c, ".!#$%&'*+/=?^_`{|}~-"); }

bool ValidDate(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1 || year < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1]) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month != 2 || day <= 28 || leap;
}

// Digits of v[pos, pos+n) as a number, or -1 when any is not a digit.
int Number(std::string_view v, size_t pos, size_t n) {
  if (pos + n > v.size()) return -1;
  int x = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(v[i])) return -1;
    x = x * 10 + Digit(v[i]);
  }
  return x;
}

constexpr std::string_view kStreetWords[] = {
    "alley", "ave",    "avenue", "blvd",  "boulevard", "calle", "cl",      "close",   "court",  "cres",
    "crescent", "ct",  "dr",     "drive", "hwy",   "highway",  "lane",  "ln",      "parkway", "pkwy",   "pl",
    "place",  "rd",    "road",   "rue",   "sq",    "square",   "st",    "street",  "ter",     "terrace", "via",
    "way",
};

bool IsStreetWord(std::string_view word) {
  while (!word.empty() && word.back() == '.') word.remove_suffix(1);
  if (word.empty() || word.size() > 20) return false;
  std::string lower(word);
  for (char& c : lower) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  for (std::string_view s : kStreetWords) {
    if (lower == s) return true;
  }
  // German and Dutch street names are one word: Hauptstraße, Lindenstrasse, Kerkstraat.
  for (std::string_view suffix : {"straße", "strasse", "str", "straat", "weg", "gasse"}) {
    if (std::string_view(lower).ends_with(suffix)) return true;
  }
  return false;
}

// "12", "221B", "12-14", "5a".
bool IsHouseNumber(std::string_view word) {
  size_t digits = 0;
  while (digits < word.size() && IsDigit(word[digits])) ++digits;
  if (digits == 0 || digits > 6) return false;
  std::string_view rest = word.substr(digits);
  if (rest.empty()) return true;
  if (rest.size() == 1 && IsAlpha(rest[0])) return true;
  if (rest[0] == '-' && rest.size() <= 7) {
    for (char c : rest.substr(1)) {
      if (!IsDigit(c)) return false;
    }
    return rest.size() > 1;
  }
  return false;
}

// A name word: a capital letter, then letters (any non-ASCII byte counts as a letter), hyphens,
// apostrophes, or a final period for an initial.
bool IsNameWord(std::string_view w) {
  if (w.empty() || w.size() > 30 || !(IsUpper(w[0]) || IsNonAscii(w[0]))) return false;
  for (size_t i = 1; i < w.size(); ++i) {
    const char c = w[i];
    if (IsAlpha(c) || IsNonAscii(c) || c == '\'' || c == '-') continue;
    if (c == '.' && i + 1 == w.size()) continue;
    return false;
  }
  return true;
}

// Any hyphen-separated part of the word is a common name ("Smith-Jones", "Anne-Marie").
bool HasCommonNamePart(std::string_view w) {
  size_t start = 0;
  while (start <= w.size()) {
    size_t end = w.find('-', start);
    if (end == std::string_view::npos) end = w.size();
    if (IsCommonPersonName(w.substr(start, end - start))) return true;
    start = end + 1;
  }
  return false;
}

bool IcdCode(std::string_view w) {
  if (w.size() < 3 || w.size() > 8) return false;
  if (!IsUpper(w[0]) || !IsDigit(w[1]) || !(IsDigit(w[2]) || IsUpper(w[2]))) return false;
  if (w.size() == 3) return true;
  if (w[3] != '.' || w.size() < 5) return false;
  for (char c : w.substr(4)) {
    if (!(IsDigit(c) || IsUpper(c))) return false;
  }
  return true;
}

bool PhoneSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }

// Punctuation around a word in prose: "(mail me at a@b.com)." -> "a@b.com".
std::string_view StripPunctuation(std::string_view w) {
  auto punct = [](char c) { return OneOf(c, "()[]<>{}\"',;:!?."); };
  while (!w.empty() && punct(w.front())) w.remove_prefix(1);
  while (!w.empty() && punct(w.back())) w.remove_suffix(1);
  return w;
}

// "reports", "weeks." : two or more lower-case letters, then at most one punctuation mark.
bool IsLowerWord(std::string_view w) {
  if (!w.empty() && OneOf(w.back(), ".,;:!?")) w.remove_suffix(1);
  if (w.size() < 2) return false;
  for (char c : w) {
    if (!IsLower(c)) return false;
  }
  return true;
}

}  // namespace

bool IsEmailAddress(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.size() > 254) return false;
  const size_t at = v.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || v.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view local = v.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (char c : local) {
    if (!EmailLocalChar(c)) return false;
  }
  const std::string_view domain = v.substr(at + 1);
  size_t labels = 0;
  size_t start = 0;
  std::string_view last;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    ++labels;
    last = label;
    start = end + 1;
  }
  if (labels < 2 || last.size() < 2) return false;
  for (char c : last) {
    if (!IsAlpha(c)) return false;
  }
  return true;
}

bool IsPhoneNumber(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.empty() || v.size() > 32) return false;
  const bool plus = v.front() == '+';
  size_t digits = 0;
  size_t separators = 0;
  int open = 0;
  // Digit groups between separators, to refuse the SSN shape 3-2-4.
  std::array<size_t, 8> groups{};
  size_t group_count = 0;
  size_t run = 0;
  char first_digit = 0;
  for (size_t i = plus ? 1 : 0; i < v.size(); ++i) {
    const char c = v[i];
    if (IsDigit(c)) {
      if (first_digit == 0) first_digit = c;
      ++digits;
      ++run;
      continue;
    }
    if (!PhoneSeparator(c)) return false;
    ++separators;
    if (c == '(') ++open;
    if (c == ')' && --open < 0) return false;
    if (run > 0) {
      if (group_count == groups.size()) return false;
      groups[group_count++] = run;
    }
    run = 0;
  }
  if (run > 0 && group_count < groups.size()) groups[group_count++] = run;
  if (open != 0 || (!plus && separators == 0) || first_digit == 0) return false;
  if (group_count == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4) return false;
  if (IsIpAddress(v)) return false;
  if (plus) return first_digit != '0' && digits >= 8 && digits <= 15;
  if (first_digit == '0') return digits >= 9 && digits <= 11;
  if (digits == 10) return first_digit >= '2';
  return digits == 11 && first_digit == '1';
}

bool IsBarePhoneDigits(std::string_view value) {
  std::string_view v = Trim(value);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.size() < 10 || v.size() > 15) return false;
  for (char c : v) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

SsnShape ClassifySsn(std::string_view value, bool allow_bare) {
  const std::string_view v = Trim(value);
  int area = -1, group = -1, serial = -1;
  if (v.size() == 11 && (v[3] == '-' || v[3] == ' ') && v[6] == v[3]) {
    area = Number(v, 0, 3);
    group = Number(v, 4, 2);
    serial = Number(v, 7, 4);
  } else if (allow_bare && v.size() == 9) {
    area = Number(v, 0, 3);
    group = Number(v, 3, 2);
    serial = Number(v, 5, 4);
  }
  if (area < 0 || group < 0 || serial < 0) return SsnShape::kNone;
  // Never issued (SSA): area 000, 666 and 900-999, group 00, serial 0000; and the two numbers
  // printed on sample cards that people still type (078-05-1120, 219-09-9999).
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return SsnShape::kInvalid;
  if ((area == 78 && group == 5 && serial == 1120) || (area == 219 && group == 9 && serial == 9999)) {
    return SsnShape::kInvalid;
  }
  return SsnShape::kValid;
}

bool LuhnValid(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!IsDigit(digits[i])) return false;
    int d = Digit(digits[i]);
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return !digits.empty() && sum % 10 == 0;
}

bool IsCardNumber(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.size() > 23) return false;
  std::string digits;
  char previous = 0;
  for (char c : v) {
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if ((c == ' ' || c == '-') && IsDigit(previous)) {
      // one separator between digit groups
    } else {
      return false;
    }
    previous = c;
  }
  if (digits.size() < 13 || digits.size() > 19 || !IsDigit(previous)) return false;
  if (digits[0] < '2' || digits[0] > '6') return false;
  return LuhnValid(digits);
}

bool IsIban(std::string_view value) {
  const std::string_view v = Trim(value);
  std::string compact;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ' ' && i > 0 && v[i - 1] != ' ') continue;
    if (!IsUpper(v[i]) && !IsDigit(v[i])) return false;
    compact.push_back(v[i]);
  }
  if (compact.size() < 15 || compact.size() > 34) return false;
  if (!IsUpper(compact[0]) || !IsUpper(compact[1]) || !IsDigit(compact[2]) || !IsDigit(compact[3])) return false;
  // ISO 13616: move the first four characters to the end, letters become 10..35, mod 97 == 1.
  const std::string rearranged = compact.substr(4) + compact.substr(0, 4);
  int remainder = 0;
  for (char c : rearranged) {
    if (IsDigit(c)) {
      remainder = (remainder * 10 + Digit(c)) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return remainder == 1;
}

bool IsIpAddress(std::string_view value) {
  std::string_view v = Trim(value);
  const size_t slash = v.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = v.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 3) return false;
    for (char c : prefix) {
      if (!IsDigit(c)) return false;
    }
    v = v.substr(0, slash);
  }
  if (v.empty() || v.size() > 45 || v.find('\0') != std::string_view::npos) return false;
  char buffer[46];
  std::memcpy(buffer, v.data(), v.size());
  buffer[v.size()] = '\0';
  unsigned char address[16];
  return inet_pton(AF_INET, buffer, address) == 1 || inet_pton(AF_INET6, buffer, address) == 1;
}

bool IsDate(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.size() >= 10 && v[4] == '-' && v[7] == '-' && (v.size() == 10 || v[10] == ' ' || v[10] == 'T')) {
    return ValidDate(Number(v, 0, 4), Number(v, 5, 2), Number(v, 8, 2));
  }
  if (v.size() == 10 && v[2] == '/' && v[5] == '/') {
    return ValidDate(Number(v, 6, 4), Number(v, 0, 2), Number(v, 3, 2));
  }
  return false;
}

bool IsPersonName(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.size() > 100) return false;
  std::array<std::string_view, 4> words;
  const size_t n = Words(v, words);
  if (n == 0 || n > words.size()) return false;
  bool common = false;
  for (size_t i = 0; i < n; ++i) {
    if (!IsNameWord(words[i])) return false;
    common = common || HasCommonNamePart(words[i]);
  }
  return common;
}

bool IsStreetAddress(std::string_view value) {
  const std::string_view v = Trim(value);
  std::array<std::string_view, 16> words;
  const size_t n = Words(v, words);
  if (n < 2 || n > words.size()) return false;
  // The number comes just before or just after the street word, or starts the address.
  for (size_t i = 0; i < n; ++i) {
    if (!IsStreetWord(words[i])) continue;
    if (i + 1 < n && IsHouseNumber(words[i + 1])) return true;
    if (i > 0 && IsHouseNumber(words[0]) && i <= 5) return true;
  }
  return false;
}

bool IsMedicalCode(std::string_view value) {
  const std::string_view v = Trim(value);
  const size_t space = v.find(' ');
  return IcdCode(v.substr(0, space));
}

bool IsFreeText(std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.size() < 20) return false;
  // Prose has lower-case words ("reports", "in"); names, addresses and codes rarely do.
  size_t words = 0;
  size_t lower_words = 0;
  size_t letters_or_spaces = 0;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && IsSpace(v[i])) {
      ++letters_or_spaces;
      ++i;
    }
    const size_t start = i;
    while (i < v.size() && !IsSpace(v[i])) {
      if (IsAlpha(v[i]) || IsNonAscii(v[i])) ++letters_or_spaces;
      ++i;
    }
    if (i == start) break;
    ++words;
    if (IsLowerWord(v.substr(start, i - start))) ++lower_words;
  }
  return words >= 4 && lower_words >= 2 && letters_or_spaces * 10 >= v.size() * 6;
}

uint32_t FindEmbeddedIdentifiers(std::string_view text) {
  const std::string_view v = text.substr(0, kMaxScannedValueBytes);
  uint32_t found = 0;
  // Words: e-mail addresses, ICD-10 codes, SSNs.
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && IsSpace(v[i])) ++i;
    const size_t start = i;
    while (i < v.size() && !IsSpace(v[i])) ++i;
    const std::string_view word = StripPunctuation(v.substr(start, i - start));
    if (word.empty()) continue;
    if (word.find('@') != std::string_view::npos && IsEmailAddress(word)) found |= kEmbeddedEmail;
    if (IcdCode(word)) found |= kEmbeddedMedicalCode;
    if (ClassifySsn(word, false) == SsnShape::kValid) found |= kEmbeddedSsn;
  }
  // Runs of digits and phone separators: phone and card numbers span several words.
  i = 0;
  while (i < v.size()) {
    if (!(IsDigit(v[i]) || v[i] == '+' || v[i] == '(')) {
      ++i;
      continue;
    }
    const size_t start = i;
    ++i;
    while (i < v.size() && (IsDigit(v[i]) || PhoneSeparator(v[i]))) ++i;
    std::string_view run = v.substr(start, i - start);
    while (!run.empty() && !IsDigit(run.back()) && run.back() != ')') run.remove_suffix(1);
    if (run.size() < 7) continue;
    if (IsCardNumber(run)) found |= kEmbeddedCard;
    if (IsPhoneNumber(run)) found |= kEmbeddedPhone;
    if (ClassifySsn(run, false) == SsnShape::kValid) found |= kEmbeddedSsn;
  }
  return found;
}

}  // namespace pgmask::policy
