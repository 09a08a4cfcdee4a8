// `pgmask explain --policy P --role R [--upstream HOST:PORT --user U --dbname D] [--json] SQL`:
// argument parsing, and, with --upstream, the live catalog read through libpq (the analysis and
// the report are policy/explain_command.h).
#pragma once

#include <string_view>
#include <vector>

namespace pgmask::proxy {

int RunExplain(const std::vector<std::string_view>& args);

}  // namespace pgmask::proxy
