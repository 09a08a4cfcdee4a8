// The read side of the trail for people: `pgmask audit who-accessed` (who saw one row, by its key)
// and `pgmask audit break-glass` (every break-glass session and what it did). Both read only
// records that authenticate with the audit key and say how many lines they skipped.
// Exit codes: 0 done, 1 done but some lines did not authenticate (run `pgmask audit verify`).
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "policy/key_file.h"
#include "proxy/audit_reader.h"

namespace pgmask::proxy {

// `table` is "schema.name" ("patients" means "public.patients"); `row_key` the key column's value
// in text form. One entry per statement whose record lists the key's HMAC, plus those that may
// have returned it but whose key list was capped.
// `texts`: trail read from the audit database (audit_pg_sink.h), besides or instead of files.
int RunWhoAccessed(const std::vector<std::string>& files, const policy::Key& audit_key,
                   std::string_view table, std::string_view row_key, std::ostream& out,
                   std::ostream& err, const AuditTexts& texts = {});

// Break-glass sessions with any activity at or after `since`, each with its start, statements and
// end.
int RunBreakGlassReport(const std::vector<std::string>& files, const policy::Key& audit_key,
                        absl::Time since, std::ostream& out, std::ostream& err,
                        const AuditTexts& texts = {});

// "2024-05-01T12:00:00Z" (RFC 3339), "2024-05-01" (UTC midnight), or an age: "90m", "24h", "7d".
bool ParseSince(std::string_view text, absl::Time now, absl::Time& out);

}  // namespace pgmask::proxy
