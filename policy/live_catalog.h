// Reads what the policy needs from a live database, in the client's own session: the login
// role's memberships, where the protected columns are (table OID + column number, for the
// RowDescription check), the session's search_path, and, for the statement analyzer, the
// database's relations, columns, view definitions, inheritance and function names.
//
// The relations and functions are the same for every session on a database and can be large, so
// they are returned only when the catalog changed: the query computes a fingerprint of the
// catalog tables and skips them when it equals the one the caller already holds. The proxy
// shares one CatalogSnapshot per database; `pgmask explain --upstream` reads it once.
//
// The whole query runs with search_path emptied (pg_catalog only) and restores it at the end,
// so a function or operator a client defines in its own schemas can never stand in for the
// catalog functions the query calls, and view definitions come back fully schema-qualified,
// meaning the same under every session's search_path.
//
// It also runs with lock_timeout set to `timeout` and statement_timeout to twice that (restored
// at the end): reading a view's definition takes a lock on it and on what it reads, and a
// transaction that holds one (a prepared transaction holds it across restarts) would otherwise
// stop every read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "policy/catalog_view.h"
#include "policy/lineage.h"
#include "policy/policy.h"

namespace pgmask::policy {

inline constexpr absl::Duration kDefaultCatalogTimeout = absl::Seconds(5);

// One simple-protocol Query (several statements; every row is text and starts with a tag).
// `known_fingerprint` empty: always return the relations and functions. The server answers
// 55P03 (lock_not_available) or 57014 (query_canceled) when `timeout` runs out.
std::string LiveCatalogQuery(const Policy& policy, std::string_view known_fingerprint,
                             absl::Duration timeout = kDefaultCatalogTimeout);

struct ProtectedColumnLocation {
  uint32_t table_oid = 0;
  int16_t attnum = 0;
  ProtectedColumnId column;
};

struct LiveCatalog {
  std::vector<std::string> roles;  // session_user first, then every role it is a member of
  std::vector<ProtectedColumnLocation> protected_columns;
  std::vector<std::string> search_path;  // current_schemas(false), in order
  std::vector<std::string> temporary;    // the session's temporary relations
  std::string fingerprint;
  // Relations (temporary ones excepted) and functions; set when the query returned them.
  std::optional<CatalogData> shared;
};

// Folds the rows of LiveCatalogQuery(policy, ...) into a LiveCatalog.
class LiveCatalogReader {
 public:
  explicit LiveCatalogReader(const Policy& policy) : policy_(&policy) {}

  // One result row, cells as text (nullopt: NULL). A row of no known shape is an error.
  absl::Status AddRow(absl::Span<const std::optional<std::string_view>> row);
  // After the last row: the catalog, or an error when a part is missing or inconsistent.
  absl::StatusOr<LiveCatalog> Finish() &&;

 private:
  absl::Status AddRelation(absl::Span<const std::optional<std::string_view>> row);
  absl::Status AddColumn(absl::Span<const std::optional<std::string_view>> row);
  // A column read by the 'A' rows; null for a relation created between the statements (or a
  // column added meanwhile), which the rows after them may still name.
  CatalogColumn* ColumnAt(uint32_t oid, int attnum);
  absl::Status AddGeneratedSource(absl::Span<const std::optional<std::string_view>> row);
  absl::Status AddUniqueColumn(absl::Span<const std::optional<std::string_view>> row);
  absl::Status AddForeignKey(absl::Span<const std::optional<std::string_view>> row);
  absl::Status AddParent(absl::Span<const std::optional<std::string_view>> row);

  const Policy* policy_;
  LiveCatalog catalog_;
  std::vector<std::pair<int, std::string>> search_path_;  // (position, schema)
  bool have_fingerprint_ = false;
  bool have_relations_ = false;
  absl::flat_hash_map<uint32_t, size_t> relation_index_;  // pg_class oid -> shared->relations
  std::vector<std::pair<uint32_t, uint32_t>> parents_;   // (child oid, parent oid)
};

}  // namespace pgmask::policy
