// Row keys in the audit trail. For a table with `key:` in the policy, a statement's record lists
// keyed HMACs of the keys of the rows it returned, so `pgmask audit who-accessed` can answer who
// saw one record without the trail holding the key itself:
//   hmac = first 32 hex digits of HMAC-SHA-256(audit key, "pgmask-audit-row-key\0" table "\0" key)
// where `table` is "schema.name" as written in the policy and `key` is the key column's value in
// PostgreSQL's text format ("42").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "policy/key_file.h"
#include "policy/keyed_hash.h"
#include "proxy/audit_record.h"

namespace pgmask::proxy {

// Keys listed per table and statement unless the caller picks another cap.
inline constexpr uint64_t kDefaultAuditKeyCap = 100;

// Not thread-safe: one per session (or per query command).
class AuditRowKeyHasher {
 public:
  static absl::StatusOr<AuditRowKeyHasher> Create(const policy::Key& audit_key);

  std::string Hash(std::string_view table, std::string_view key_text);

 private:
  explicit AuditRowKeyHasher(policy::KeyedHash hash) : hash_(std::move(hash)) {}
  policy::KeyedHash hash_;
  std::string buffer_;
};

// Collects the keys one statement returns: distinct per table, at most `cap` listed, every row
// counted.
class AuditRowKeys {
 public:
  AuditRowKeys(AuditRowKeyHasher* hasher, uint64_t cap) : hasher_(hasher), cap_(cap) {}

  void Add(std::string_view table, std::string_view key_text);
  // The tables in the order first seen; resets the collector.
  std::vector<AuditTableKeys> Take();

 private:
  struct Table {
    AuditTableKeys keys;
    absl::flat_hash_set<std::string> seen;
  };
  AuditRowKeyHasher* hasher_;
  uint64_t cap_;
  std::vector<Table> tables_;
};

}  // namespace pgmask::proxy
