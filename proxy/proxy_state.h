// What all sessions share: settings, the upstream address, cancel keys and admission counters.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "proxy/asio.h"
#include "proxy/audit_service.h"
#include "proxy/auth_file.h"
#include "proxy/cancel_registry.h"
#include "proxy/connection_limits.h"
#include "proxy/metrics.h"
#include "proxy/policy_store.h"
#include "proxy/serve_config.h"
#include "proxy/session_catalog.h"
#include "proxy/tls_context.h"

namespace pgmask::proxy {

struct ProxyState {
  explicit ProxyState(ServeConfig c)
      : config(std::move(c)), limits(config.max_user_conn, config.max_db_conn) {}

  const ServeConfig config;
  std::vector<tcp::endpoint> upstream_endpoints;
  CancelRegistry cancel_registry;
  PolicyStore policies;
  SharedCatalogs catalogs;  // one catalog snapshot per database, for the statement analyzer
  Metrics metrics;
  std::atomic<int> admitted_sessions{0};  // sessions past the startup packet, counted for max_client_conn
  std::atomic<int> open_connections{0};   // every accepted socket, for shutdown
  std::atomic<int> starting_connections{0};  // accepted, no ReadyForQuery yet: max_startup_conn
  ConnectionLimits limits;
  ServerTlsStore client_tls;                     // empty without tls_cert/tls_key
  std::shared_ptr<ssl::context> upstream_tls;    // null with upstream_sslmode disable
  AuthFileStore auth_file;                       // empty without auth_file
  // The audit trail (--audit-file, --audit-dsn); null when none is kept.
  std::unique_ptr<AuditService> audit;
  std::atomic<bool> shutting_down{false};
};

}  // namespace pgmask::proxy
