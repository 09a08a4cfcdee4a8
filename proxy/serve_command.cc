#include "proxy/serve_command.h"

#include <iostream>
#include <string>

#include "proxy/serve_config.h"
#include "proxy/server.h"

namespace pgmask::proxy {

int RunServeCommand(const std::vector<std::string_view>& args) {
  ServeConfig config;
  std::string config_path;
  // Flags are read twice: first to find --config, then again on top of the file so they win.
  absl::Status status = ApplyServeFlags(args, config, &config_path);
  if (status.ok() && !config_path.empty()) {
    config = ServeConfig{};
    status = ApplyConfigFile(config_path, config);
    if (status.ok()) status = ApplyServeFlags(args, config, nullptr);
  }
  if (!status.ok()) {
    std::cerr << "pgmask: " << status.message() << "\n";
    return 2;
  }
  Server server(std::move(config));
  status = server.Run();
  if (!status.ok()) {
    std::cerr << "pgmask: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace pgmask::proxy
