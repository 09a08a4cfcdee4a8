#include "proxy/policy_commands.h"

#include <iostream>
#include <string>

#include "policy/commands.h"
#include "policy/key_file.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

int RunCheck(const std::vector<std::string_view>& args) {
  if (args.size() != 1 || args[0].starts_with("-")) {
    std::cerr << "usage: pgmask check POLICY_FILE\n";
    return 2;
  }
  return policy::RunCheckCommand(args[0], std::cout, std::cerr);
}

int RunDetokenize(const std::vector<std::string_view>& args) {
  std::string key_file;
  std::string type = "text";
  std::vector<std::string> tokens;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if ((a == "--token-key-file" || a == "--type") && i + 1 < args.size()) {
      (a == "--type" ? type : key_file) = std::string(args[++i]);
    } else if (a.starts_with("--")) {
      std::cerr << "pgmask detokenize: unknown option " << a << "\n";
      return 2;
    } else {
      tokens.emplace_back(a);
    }
  }
  if (tokens.empty()) {
    std::cerr << "usage: pgmask detokenize [--token-key-file FILE] [--type TYPE] TOKEN...\n"
                 "  the key comes from FILE or the PGMASK_TOKEN_KEY environment variable\n";
    return 2;
  }
  auto key = key_file.empty() ? policy::KeyFromEnv(std::string(policy::kTokenKeyEnv)) : policy::LoadKeyFile(key_file);
  if (!key.ok()) {
    std::cerr << "pgmask detokenize: " << ToStd(key.status().message()) << "\n";
    return 2;
  }
  return policy::RunDetokenizeCommand(*key, type, tokens, std::cout, std::cerr);
}

}  // namespace pgmask::proxy
