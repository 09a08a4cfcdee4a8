// `pgmask audit verify|who-accessed|break-glass`: argument parsing here, the work in
// audit_verify.h and audit_queries.h.
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

namespace pgmask::proxy {

// `args` follow "audit". Exit codes: 0 intact / done, 1 a fault in the trail, 2 usage or key error.
int RunAuditCommand(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err);
int RunAudit(const std::vector<std::string_view>& args);

}  // namespace pgmask::proxy
