// What all sessions share: settings, the upstream address, cancel keys and admission counters.
#pragma once

#include <atomic>
#include <vector>

#include "proxy/asio.h"
#include "proxy/cancel_registry.h"
#include "proxy/metrics.h"
#include "proxy/policy_store.h"
#include "proxy/serve_config.h"
#include "proxy/session_catalog.h"

namespace pgmask::proxy {

struct ProxyState {
  explicit ProxyState(ServeConfig c) : config(std::move(c)) {}

  const ServeConfig config;
  std::vector<tcp::endpoint> upstream_endpoints;
  CancelRegistry cancel_registry;
  PolicyStore policies;
  SharedCatalogs catalogs;  // one catalog snapshot per database, for the statement analyzer
  Metrics metrics;
  std::atomic<int> admitted_sessions{0};  // sessions past the startup packet, counted for max_client_conn
  std::atomic<int> open_connections{0};   // every accepted socket, for shutdown
  std::atomic<bool> shutting_down{false};
};

}  // namespace pgmask::proxy
