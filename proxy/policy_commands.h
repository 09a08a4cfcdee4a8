// `pgmask check` and `pgmask detokenize`: argument parsing here, the work in policy/commands.h.
#pragma once

#include <string_view>
#include <vector>

namespace pgmask::proxy {

int RunCheck(const std::vector<std::string_view>& args);
int RunDetokenize(const std::vector<std::string_view>& args);

}  // namespace pgmask::proxy
