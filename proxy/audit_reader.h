// Reads audit trail files for `pgmask audit verify`, `who-accessed` and `break-glass`: every line
// parsed and authenticated, files put in chain order (by the seq of their first authentic
// record), so the caller may name them in any order (`audit.jsonl*`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/audit_chain.h"

namespace pgmask::proxy {

struct AuditEntry {
  size_t file = 0;  // index into AuditTrail::files
  size_t line = 0;  // 1-based
  bool incomplete = false;          // the file's last line, without its '\n'
  std::optional<AuditLine> record;  // nullopt: not an audit record (see error)
  std::string error;
  bool authentic = false;
};

struct AuditTrail {
  std::vector<std::string> files;     // chain order
  std::vector<AuditEntry> entries;    // in file order, then line order
  std::vector<std::string> unreadable;  // "FILE: why"

  std::string Where(const AuditEntry& e) const;  // "FILE:LINE"
};

// Trail text that did not come from a file (the PostgreSQL sink's rows): (name, lines).
using AuditTexts = std::vector<std::pair<std::string, std::string>>;

// `files` are read from disk; `texts` are taken as if each were a file of that name.
AuditTrail ReadAuditTrail(const std::vector<std::string>& files, AuditChain& chain, const AuditTexts& texts = {});

// Field accessors that tolerate absent or mistyped fields.
std::string AuditString(const AuditLine& line, std::string_view name);
std::optional<uint64_t> AuditUint(const AuditLine& line, std::string_view name);

}  // namespace pgmask::proxy
