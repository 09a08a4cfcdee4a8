#include "proxy/session_catalog.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pgmask::proxy {

SharedCatalogs::Entry SharedCatalogs::Get(const std::string& database) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(database);
  return it == entries_.end() ? Entry{} : it->second;
}

void SharedCatalogs::Publish(const std::string& database, Entry entry) {
  std::lock_guard lock(mutex_);
  entries_[database] = std::move(entry);
}

namespace {

// The first cell of the row that carries the isolation level and snapshot the catalog was read
// under, apart from the rows policy::LiveCatalogReader reads.
constexpr char kSnapshotRow[] = "pgmask.snapshot";

}  // namespace

CatalogRefresh::CatalogRefresh(std::shared_ptr<const policy::Policy> policy, SharedCatalogs::Entry known,
                               bool in_transaction, absl::Duration timeout)
    : policy_(std::move(policy)),
      known_(std::move(known)),
      reader_(*policy_),
      in_transaction_(in_transaction),
      timeout_(timeout) {
  // Without a snapshot to fall back on, the relations must be read whatever the fingerprint.
  if (known_.snapshot == nullptr) known_.fingerprint.clear();
}

std::string CatalogRefresh::Query() const {
  // Last: under READ COMMITTED each statement sees more, and this one at least what the others saw.
  return absl::StrCat(policy::LiveCatalogQuery(*policy_, known_.fingerprint, timeout_), "; SELECT '", kSnapshotRow,
                      "', pg_catalog.current_setting('transaction_isolation'),"
                      " pg_catalog.pg_current_snapshot()::pg_catalog.text");
}

void CatalogRefresh::AddRow(const std::vector<protocol::WireValue>& row) {
  if (!status_.ok()) return;
  if (row.size() == 3 && !row[0].is_null() && row[0].text() == kSnapshotRow) {
    isolation_ = row[1].is_null() ? std::string() : std::string(row[1].text());
    if (!row[2].is_null()) read_through_ = std::string(row[2].text());
    return;
  }
  cells_.clear();
  for (const protocol::WireValue& v : row) {
    cells_.push_back(v.is_null() ? std::nullopt : std::optional<std::string_view>(v.text()));
  }
  status_ = reader_.AddRow(cells_);
}

absl::StatusOr<SessionCatalog> CatalogRefresh::Finish(SharedCatalogs& shared, const std::string& database) && {
  if (failed_) {
    return absl::UnavailableError(failed_sqlstate_.empty()
                                      ? std::string("the catalog query failed")
                                      : absl::StrCat("the catalog query failed with SQLSTATE ", failed_sqlstate_));
  }
  if (!status_.ok()) return status_;
  if (!read_through_) return absl::DataLossError("the catalog query returned no snapshot");
  auto read_through = XidSnapshot::Parse(*read_through_);
  if (!read_through.ok()) return read_through.status();
  auto live = std::move(reader_).Finish();
  if (!live.ok()) return live.status();
  std::shared_ptr<const policy::CatalogSnapshot> snapshot;
  if (live->shared) {
    snapshot = std::make_shared<const policy::CatalogSnapshot>(*std::move(live->shared));
    if (!in_transaction_) shared.Publish(database, {live->fingerprint, snapshot});
  } else if (known_.snapshot != nullptr && live->fingerprint == known_.fingerprint) {
    snapshot = known_.snapshot;
  } else {
    return absl::DataLossError("the catalog query returned no relations");
  }
  SessionCatalog catalog;
  catalog.policy = policy_;
  catalog.current = !in_transaction_ || isolation_ == "read committed";
  catalog.read_through = *std::move(read_through);
  catalog.roles = std::move(live->roles);
  for (const policy::ProtectedColumnLocation& c : live->protected_columns) {
    catalog.columns[SessionCatalog::Key(c.table_oid, c.attnum)] = c.column;
  }
  catalog.view = std::make_shared<const policy::CatalogView>(std::move(snapshot), std::move(live->search_path),
                                                             std::move(live->temporary));
  return catalog;
}

}  // namespace pgmask::proxy
