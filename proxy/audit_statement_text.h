// The statement text the audit trail records. The trail may never hold a value, so the text is
// rebuilt from libpg_query's scanner tokens: comments dropped, every constant (string, number,
// bit string, dollar-quoted body) replaced by a $n parameter numbered after the client's own, and
// whitespace between tokens collapsed to one space. Working from tokens rather than from a parse
// tree means a constant the normalizer would miss (a utility statement's option, a statement
// that does not parse) still never reaches the trail.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmask::proxy {

struct AuditStatementText {
  std::string query;        // empty when the text could not be scanned
  std::string fingerprint;  // libpg_query fingerprint of `query` (hex); empty when it does not parse
  std::string command;      // the record's command when no statement kind names it (a FunctionCall)
};

// How the session's server reads the text.
struct AuditTextOptions {
  // The text parsed (the analysis's parse). A text that does not parse has no statement text in
  // the trail: without a parse, a bare word (`WHERE name = Ann`) cannot be told from a name.
  bool parsed = true;
  // standard_conforming_strings: off makes a backslash in a plain '...' string escape the next
  // character, as in E'...'; libpg_query's scanner and parser assume on (`parsed` is then not
  // used: the text is parsed again as the server reads it).
  bool standard_strings = true;
};

// One entry per statement of `sql` (a Query or Parse message's text), in order.
std::vector<AuditStatementText> AuditStatementTexts(std::string_view sql, const AuditTextOptions& options = {});

// `sql` as one statement: its constants replaced and comments dropped (no split, no fingerprint).
std::string AuditQueryText(std::string_view sql, const AuditTextOptions& options = {});

// The text the trail's query is rebuilt from: `sql`, or with standard_conforming_strings off
// `sql` with its strings emptied (below); nullopt when nothing of it may be recorded (it does not
// parse as the server reads it).
std::optional<std::string> AsTheServerReadsIt(std::string_view sql, const AuditTextOptions& options);

// `sql` with every '...' string (whatever its prefix) emptied to '', read with backslash escapes
// in plain strings as standard_conforming_strings off reads them; nullopt when a string, quoted
// identifier, dollar quote or comment does not end. What is left scans the same either way.
std::optional<std::string> EmptyStringsWithoutStandardStrings(std::string_view sql);

}  // namespace pgmask::proxy
