// The admin HTTP listener, separate from the SQL port: GET /metrics (Prometheus text format),
// GET /healthz (the process is alive and its event loop answers) and GET /readyz (this replica
// should get new connections: not shutting down, the policy loaded if one is configured, the
// upstream accepting TCP connections, the audit sink writable). Runs on worker 0's io_context;
// one short-lived coroutine per request, requests capped in size, time and number.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "proxy/asio.h"
#include "proxy/proxy_state.h"

namespace pgmask::proxy {

// One line of the /readyz answer.
struct ReadinessCheck {
  std::string name;
  bool ok = true;
  std::string detail;
};

// The audit trail's readiness: not ready while a sink is degraded and audit_on_failure is block;
// "not configured" (and ready) without a trail.
ReadinessCheck AuditSinkReadiness(const ProxyState& state);

class AdminServer {
 public:
  AdminServer(ProxyState& state, asio::io_context& io);

  // Binds and listens; an error (address in use, bad address) stops startup.
  absl::Status Listen(const HostPort& at);
  tcp::endpoint local_endpoint() const;
  // Starts accepting on the io_context given at construction.
  void Start();
  void Stop();

 private:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };

  awaitable<void> Accept();
  awaitable<void> Serve(tcp::socket socket);
  awaitable<Response> Handle(std::string_view method, std::string_view target);
  awaitable<ReadinessCheck> CheckUpstream();

  ProxyState& state_;
  asio::io_context& io_;
  tcp::acceptor acceptor_;
  // Requests being served (worker 0 only). Shared with each request's coroutine, whose frame may be
  // destroyed after this object when the io_context goes away.
  std::shared_ptr<int> active_requests_ = std::make_shared<int>(0);
  // The last upstream probe, reused for a second so that frequent probes do not hammer the server.
  std::chrono::steady_clock::time_point upstream_checked_{};
  ReadinessCheck upstream_result_;
};

}  // namespace pgmask::proxy
