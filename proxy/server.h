// The listening side: one io_context and thread per worker, an acceptor that spreads sessions
// round-robin over the workers, signals, and a two-phase shutdown (drain, then close).
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include <boost/asio/signal_set.hpp>

#include "proxy/asio.h"
#include "proxy/proxy_state.h"
#include "proxy/session_list.h"

namespace pgmask::proxy {

class Server {
 public:
  explicit Server(ServeConfig config);
  ~Server();

  // Serves until SIGINT/SIGTERM and the shutdown that follows; an error if it cannot start.
  absl::Status Run();

 private:
  struct Worker {
    SessionList sessions;  // declared first: destroying `io` destroys sessions, which leave this list
    asio::io_context io{1};
    std::thread thread;
  };

  // The TLS contexts from the configuration; an error names the file that could not be used.
  absl::Status LoadTls();
  // SIGHUP: the client certificate and key read again; a bad file keeps the context in force.
  void ReloadTls();
  // The auth file (auth_file), when configured; SIGHUP reads it again, a bad file keeping the
  // one in force.
  absl::Status LoadAuthFile();
  void ReloadAuthFile();
  // Raises the soft limit on open files towards what max_client_conn needs.
  void RaiseFileLimit();
  awaitable<void> Accept(tcp::acceptor& acceptor);
  // Reloads the policy on SIGHUP and when its file changes.
  awaitable<void> WatchPolicy(asio::signal_set& reload_signal);
  // A policy_reload event in the audit trail when a reload was applied or rejected (the rejected
  // count was `rejected_before` before it was tried).
  void RecordPolicyReload(bool reloaded, uint64_t rejected_before);
  awaitable<void> RunSession(Worker& worker, tcp::socket socket);
  awaitable<void> Shutdown(tcp::acceptor& acceptor);

  ProxyState state_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
};

}  // namespace pgmask::proxy
