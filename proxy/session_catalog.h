// What the session learns from PostgreSQL over its own upstream connection, before the client
// sees ReadyForQuery and again after DDL or a policy reload: the login role's transitive
// memberships, and the table OID + column number of every column the policy protects.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "policy/output_references.h"
#include "policy/policy.h"
#include "protocol/messages.h"

namespace pgmask::proxy {

struct SessionCatalog {
  // The policy the rows were read for: the indexes below point into it.
  std::shared_ptr<const policy::Policy> policy;
  std::vector<std::string> roles;  // session_user first, then every role it is a member of
  absl::flat_hash_map<uint64_t, policy::ProtectedReference> columns;

  static uint64_t Key(uint32_t table_oid, int16_t column) {
    return (uint64_t{table_oid} << 16) | static_cast<uint16_t>(column);
  }
  const policy::ProtectedReference* Find(uint32_t table_oid, int16_t column) const {
    if (table_oid == 0) return nullptr;
    const auto it = columns.find(Key(table_oid, column));
    return it == columns.end() ? nullptr : &it->second;
  }
};

// One simple-protocol statement that returns the memberships and protected columns as rows of
// text: ('r', rolname, ...) and ('c', NULL, table oid, attnum, table index, column index).
std::string CatalogQuery(const policy::Policy& policy);

// Folds one DataRow of CatalogQuery(*catalog.policy)'s result into `catalog`.
absl::Status AddCatalogRow(const std::vector<protocol::WireValue>& row, SessionCatalog& catalog);

}  // namespace pgmask::proxy
