// The statement text the audit trail records. The trail may never hold a value, so the text is
// rebuilt from libpg_query's scanner tokens: comments dropped, every constant (string, number,
// bit string, dollar-quoted body) replaced by a $n parameter numbered after the client's own, and
// whitespace between tokens collapsed to one space. Working from tokens rather than from a parse
// tree means a constant the normalizer would miss (a utility statement's option, a statement
// that does not parse) still never reaches the trail.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgmask::proxy {

struct AuditStatementText {
  std::string query;        // empty when the text could not be scanned
  std::string fingerprint;  // libpg_query fingerprint of `query` (hex); empty when it does not parse
};

// One entry per statement of `sql` (a Query or Parse message's text), in order.
std::vector<AuditStatementText> AuditStatementTexts(std::string_view sql);

// `sql` as one statement: its constants replaced and comments dropped (no split, no fingerprint).
std::string AuditQueryText(std::string_view sql);

}  // namespace pgmask::proxy
