// Where a value comes from, in terms of the policy's protected columns.
//
// A value either passes a protected column through unchanged (a plain reference, possibly through
// aliases, subqueries, CTEs and set-operation branches: "direct") or is computed from it (an
// expression, cast, aggregate, constructor: "derived"). A value whose origin cannot be traced
// counts as derived from every protected column of the policy ("everything"): fail closed.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <optional>
#include <vector>

namespace pgmask::policy {

// A protected column: indexes into Policy::tables() and that table's columns.
struct ProtectedColumnId {
  size_t table_index = 0;
  size_t column_index = 0;
  auto operator<=>(const ProtectedColumnId&) const = default;
};

// A small sorted set: statements touch a handful of protected columns, so a vector beats a hash set.
class ProtectedColumnSet {
 public:
  void Insert(ProtectedColumnId id) {
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) ids_.insert(it, id);
  }
  void InsertAll(const ProtectedColumnSet& other) {
    for (ProtectedColumnId id : other.ids_) Insert(id);
  }
  bool Contains(ProtectedColumnId id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  const std::vector<ProtectedColumnId>& ids() const { return ids_; }
  bool operator==(const ProtectedColumnSet&) const = default;

 private:
  std::vector<ProtectedColumnId> ids_;
};

class Lineage {
 public:
  static Lineage Direct(ProtectedColumnId id) {
    Lineage l;
    l.direct_.Insert(id);
    return l;
  }
  static Lineage Everything() {
    Lineage l;
    l.everything_ = true;
    return l;
  }

  // Another path to the same value (a UNION branch, a column found in two places): kept as is.
  void Merge(const Lineage& other) {
    direct_.InsertAll(other.direct_);
    derived_.InsertAll(other.derived_);
    everything_ = everything_ || other.everything_;
  }
  // An input of a computation: whatever it carries, the result is derived from it.
  void MergeDerived(const Lineage& other) {
    derived_.InsertAll(other.direct_);
    derived_.InsertAll(other.derived_);
    everything_ = everything_ || other.everything_;
  }
  // This value after a computation.
  Lineage AsDerived() const {
    Lineage l;
    l.MergeDerived(*this);
    return l;
  }

  bool empty() const { return direct_.empty() && derived_.empty() && !everything_; }
  bool everything() const { return everything_; }
  const ProtectedColumnSet& direct() const { return direct_; }
  const ProtectedColumnSet& derived() const { return derived_; }

  // The column this value passes through unchanged, when every protected path is a plain
  // reference to that one column; otherwise (several columns, any computation) nullopt.
  std::optional<ProtectedColumnId> DirectColumn() const {
    if (everything_ || !derived_.empty() || direct_.size() != 1) return std::nullopt;
    return direct_.ids().front();
  }
  // Every protected column the value depends on (not expanded for everything()).
  ProtectedColumnSet Columns() const {
    ProtectedColumnSet all = direct_;
    all.InsertAll(derived_);
    return all;
  }
  bool operator==(const Lineage&) const = default;

 private:
  ProtectedColumnSet direct_;
  ProtectedColumnSet derived_;
  bool everything_ = false;
};

}  // namespace pgmask::policy
