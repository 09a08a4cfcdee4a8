// `pgmask scan --upstream HOST:PORT [--user U] [--dbname D] [--sample N] [--table-timeout S]
// [--policy P] [--json]`: connects, samples (proxy/scan_sampler.h), and prints a policy draft,
// or with --policy the drift against it (exit 3 when a protected-looking column is not covered).
#pragma once

#include <string_view>
#include <vector>

namespace pgmask::proxy {

int RunScan(const std::vector<std::string_view>& args);

}  // namespace pgmask::proxy
