// Column-name evidence for `pgmask scan`: how strongly a column's name suggests a category.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/scan_category.h"

namespace pgmask::policy {

// kStrong: the name alone says what the column holds ("ssn", "date_of_birth", "card_number").
// kWeak: it hints, and the values must agree ("name", "mail", "description").
enum class NameHint { kNone, kWeak, kStrong };

// The words of a column name, lower case: "billingEmail_2" -> {"billing", "email", "2"}.
// Splits on every non-alphanumeric byte and at lower-to-upper case changes; at most 16 words.
std::vector<std::string> ColumnNameWords(std::string_view column);

NameHint ColumnNameHint(const std::vector<std::string>& words, Category category);

}  // namespace pgmask::policy
