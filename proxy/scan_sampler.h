// The database side of `pgmask scan`: reads the catalog and samples each table over one libpq
// connection, feeding every sampled value straight into a ColumnProfile (policy/scan_classifier.h)
// so no value outlives its row. Load stays bounded: one statement per table, at most `rows` rows
// per table (TABLESAMPLE SYSTEM on large tables, LIMIT otherwise), at most kMaxScannedValueBytes
// characters read per value, rows streamed one at a time (libpq single-row mode), and the
// connection's statement_timeout, which the caller sets, bounding each table's time.
#pragma once

#include <libpq-fe.h>

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "policy/scan_report.h"

namespace pgmask::proxy {

struct SampleLimits {
  size_t rows = 200;
  int table_timeout_seconds = 10;  // only named in the "timed out" reason; the connection enforces it
};

// Called after each sampled table: the table, its position (1-based) and the number of tables.
using ScanProgress = absl::FunctionRef<void(const policy::ScannedTable&, size_t, size_t, double seconds)>;

absl::StatusOr<policy::ScanResult> ScanDatabase(PGconn* conn, const SampleLimits& limits, ScanProgress progress);

}  // namespace pgmask::proxy
