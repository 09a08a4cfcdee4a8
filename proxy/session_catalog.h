// What a session knows of the database it is connected to, read over its own upstream connection
// before the client sees ReadyForQuery and again after DDL, a search_path change, a policy reload
// or when it may have gone stale (policy/live_catalog.h): the login role's transitive
// memberships, the table OID + column number of every protected column, and, for the statement
// analyzer, the database's shared catalog snapshot seen through the session's search_path.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "policy/catalog_view.h"
#include "policy/live_catalog.h"
#include "policy/lineage.h"
#include "policy/policy.h"
#include "protocol/messages.h"
#include "proxy/xid_snapshot.h"

namespace pgmask::proxy {

struct SessionCatalog {
  // The policy the rows were read for: the indexes below point into it.
  std::shared_ptr<const policy::Policy> policy;
  std::vector<std::string> roles;  // session_user first, then every role it is a member of
  absl::flat_hash_map<uint64_t, policy::ProtectedColumnId> columns;
  // Relations and functions of the database through the session's search_path; null until read.
  std::shared_ptr<const policy::CatalogView> view;
  // Read outside any snapshot older than the read itself: other connections' DDL up to now is in
  // it. A read inside a REPEATABLE READ or SERIALIZABLE transaction is current only for the
  // session's own changes.
  bool current = true;
  // The snapshot the read saw the catalog through (its last statement's, under READ COMMITTED).
  XidSnapshot read_through;

  static uint64_t Key(uint32_t table_oid, int16_t column) {
    return (uint64_t{table_oid} << 16) | static_cast<uint16_t>(column);
  }
  const policy::ProtectedColumnId* Find(uint32_t table_oid, int16_t column) const {
    if (table_oid == 0) return nullptr;
    const auto it = columns.find(Key(table_oid, column));
    return it == columns.end() ? nullptr : &it->second;
  }
};

// One catalog snapshot per database, shared by all its sessions on every thread. A session
// publishes the snapshot it read; the others pick it up when their own fingerprint matches.
class SharedCatalogs {
 public:
  struct Entry {
    std::string fingerprint;
    std::shared_ptr<const policy::CatalogSnapshot> snapshot;
  };
  Entry Get(const std::string& database) const;
  void Publish(const std::string& database, Entry entry);

 private:
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, Entry> entries_;
};

// A catalog read in progress: the query to send and the rows folded so far.
class CatalogRefresh {
 public:
  // `in_transaction`: read inside a transaction block of the client's. Its snapshot may be older
  // than the catalog the server resolves names against (REPEATABLE READ, SERIALIZABLE, SET
  // TRANSACTION SNAPSHOT), so the read is `current` only under READ COMMITTED; and what it reads
  // may be undone, so it is not shared with other sessions.
  // `timeout`: how long the read may wait for a lock and run each statement.
  CatalogRefresh(std::shared_ptr<const policy::Policy> policy, SharedCatalogs::Entry known, bool in_transaction,
                 absl::Duration timeout);

  // The simple-protocol Query text that reads the catalog.
  std::string Query() const;
  const std::shared_ptr<const policy::Policy>& policy() const { return policy_; }
  // One DataRow's values.
  void AddRow(const std::vector<protocol::WireValue>& row);
  // The server answered an error (its SQLSTATE), or a row pgmask could not read (none).
  void Fail(std::string_view sqlstate = {}) {
    if (!failed_) failed_sqlstate_ = std::string(sqlstate);
    failed_ = true;
  }
  // The SQLSTATE of the error that failed the read, empty if none did.
  const std::string& failed_sqlstate() const { return failed_sqlstate_; }
  // After ReadyForQuery: the new catalog (publishing a newly read snapshot for `database`, unless
  // read inside a transaction block), or an error when the read failed.
  absl::StatusOr<SessionCatalog> Finish(SharedCatalogs& shared, const std::string& database) &&;

 private:
  std::shared_ptr<const policy::Policy> policy_;
  SharedCatalogs::Entry known_;
  policy::LiveCatalogReader reader_;
  absl::Status status_;
  std::vector<std::optional<std::string_view>> cells_;
  bool failed_ = false;
  std::string failed_sqlstate_;
  bool in_transaction_;
  absl::Duration timeout_;
  std::optional<std::string> isolation_;  // read last, with the snapshot
  std::optional<std::string> read_through_;
};

}  // namespace pgmask::proxy
