#include "proxy/session_catalog.h"

#include <utility>

#include "absl/status/status.h"

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

CatalogRefresh::CatalogRefresh(std::shared_ptr<const policy::Policy> policy, SharedCatalogs::Entry known)
    : policy_(std::move(policy)), known_(std::move(known)), reader_(*policy_) {
  // Without a snapshot to fall back on, the relations must be read whatever the fingerprint.
  if (known_.snapshot == nullptr) known_.fingerprint.clear();
}

std::string CatalogRefresh::Query() const { return policy::LiveCatalogQuery(*policy_, known_.fingerprint); }

void CatalogRefresh::AddRow(const std::vector<protocol::WireValue>& row) {
  if (!status_.ok()) return;
  cells_.clear();
  for (const protocol::WireValue& v : row) {
    cells_.push_back(v.is_null() ? std::nullopt : std::optional<std::string_view>(v.text()));
  }
  status_ = reader_.AddRow(cells_);
}

absl::StatusOr<SessionCatalog> CatalogRefresh::Finish(SharedCatalogs& shared, const std::string& database) && {
  if (failed_) return absl::UnavailableError("the catalog query failed");
  if (!status_.ok()) return status_;
  auto live = std::move(reader_).Finish();
  if (!live.ok()) return live.status();
  std::shared_ptr<const policy::CatalogSnapshot> snapshot;
  if (live->shared) {
    snapshot = std::make_shared<const policy::CatalogSnapshot>(*std::move(live->shared));
    shared.Publish(database, {live->fingerprint, snapshot});
  } else if (known_.snapshot != nullptr && live->fingerprint == known_.fingerprint) {
    snapshot = known_.snapshot;
  } else {
    return absl::DataLossError("the catalog query returned no relations");
  }
  SessionCatalog catalog;
  catalog.policy = policy_;
  catalog.roles = std::move(live->roles);
  for (const policy::ProtectedColumnLocation& c : live->protected_columns) {
    catalog.columns[SessionCatalog::Key(c.table_oid, c.attnum)] = c.column;
  }
  catalog.view = std::make_shared<const policy::CatalogView>(std::move(snapshot), std::move(live->search_path));
  return catalog;
}

}  // namespace pgmask::proxy
