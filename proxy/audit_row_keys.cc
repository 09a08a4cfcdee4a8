#include "proxy/audit_row_keys.h"

namespace pgmask::proxy {
namespace {

constexpr std::string_view kDomain = "pgmask-audit-row-key";
constexpr size_t kHexChars = 32;

}  // namespace

absl::StatusOr<AuditRowKeyHasher> AuditRowKeyHasher::Create(const policy::Key& audit_key) {
  absl::StatusOr<policy::KeyedHash> hash = policy::KeyedHash::Create(audit_key.bytes());
  if (!hash.ok()) return hash.status();
  return AuditRowKeyHasher(*std::move(hash));
}

std::string AuditRowKeyHasher::Hash(std::string_view table, std::string_view key_text) {
  buffer_.clear();
  buffer_.append(kDomain);
  buffer_.push_back('\0');
  buffer_.append(table);
  buffer_.push_back('\0');
  buffer_.append(key_text);
  std::string hex;
  hex.reserve(kHexChars);
  policy::AppendHex(hash_.Compute(buffer_), kHexChars, hex);
  return hex;
}

void AuditRowKeys::Add(std::string_view table, std::string_view key_text) {
  Table* t = nullptr;
  for (Table& candidate : tables_) {
    if (candidate.keys.table == table) {
      t = &candidate;
      break;
    }
  }
  if (t == nullptr) {
    t = &tables_.emplace_back();
    t->keys.table = std::string(table);
    t->keys.cap = cap_;
  }
  ++t->keys.rows;
  if (t->keys.capped) return;  // beyond the cap nothing more is listed, so no need to hash
  std::string h = hasher_->Hash(table, key_text);
  if (t->seen.contains(h)) return;
  if (t->keys.hmac.size() >= cap_) {
    t->keys.capped = true;
    return;
  }
  t->seen.insert(h);
  t->keys.hmac.push_back(std::move(h));
}

std::vector<AuditTableKeys> AuditRowKeys::Take() {
  std::vector<AuditTableKeys> out;
  out.reserve(tables_.size());
  for (Table& t : tables_) out.push_back(std::move(t.keys));
  tables_.clear();
  return out;
}

}  // namespace pgmask::proxy
