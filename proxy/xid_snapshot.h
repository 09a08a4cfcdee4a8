// A PostgreSQL snapshot as pg_current_snapshot() prints it ("xmin:xmax:xip,..."): which
// transactions' work it sees. A catalog read through a transaction's snapshot describes the catalog
// pgmask already knows only when that snapshot sees every transaction the earlier read saw;
// SET TRANSACTION SNAPSHOT can import one that is older.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pgmask::proxy {

struct XidSnapshot {
  uint64_t xmin = 0;
  uint64_t xmax = 0;
  std::vector<uint64_t> in_progress;  // sorted, as PostgreSQL prints them

  static absl::StatusOr<XidSnapshot> Parse(std::string_view text);
  // Every transaction `earlier` sees as committed, this one sees too (aborted ones counted as
  // committed: the answer errs towards false).
  bool SeesAllOf(const XidSnapshot& earlier) const;
};

}  // namespace pgmask::proxy
