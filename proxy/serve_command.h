// `pgmask serve`: config file, then flags, then the server until shutdown.
#pragma once

#include <string_view>
#include <vector>

namespace pgmask::proxy {

int RunServeCommand(const std::vector<std::string_view>& args);

}  // namespace pgmask::proxy
