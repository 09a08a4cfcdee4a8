#include "proxy/xid_snapshot.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

absl::StatusOr<XidSnapshot> XidSnapshot::Parse(std::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(text), ':');
  XidSnapshot s;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &s.xmin) || !absl::SimpleAtoi(parts[1], &s.xmax) ||
      s.xmin > s.xmax) {
    return absl::DataLossError("unexpected snapshot");
  }
  if (!parts[2].empty()) {
    for (const absl::string_view xid : absl::StrSplit(parts[2], ',')) {
      uint64_t x = 0;
      if (!absl::SimpleAtoi(xid, &x) || x < s.xmin || x >= s.xmax) return absl::DataLossError("unexpected snapshot");
      s.in_progress.push_back(x);
    }
  }
  std::sort(s.in_progress.begin(), s.in_progress.end());
  return s;
}

bool XidSnapshot::SeesAllOf(const XidSnapshot& earlier) const {
  // Transactions from xmax on are unseen here; `earlier` may have seen some of them committed.
  if (xmax < earlier.xmax) return false;
  // In progress here but finished before `earlier`.
  for (const uint64_t x : in_progress) {
    if (x < earlier.xmax && !std::binary_search(earlier.in_progress.begin(), earlier.in_progress.end(), x)) {
      return false;
    }
  }
  return true;
}

}  // namespace pgmask::proxy
