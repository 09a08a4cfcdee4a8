#include "proxy/server.h"

#include <signal.h>
#include <sys/resource.h>

#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "policy/key_file.h"
#include "proxy/admin_server.h"
#include "proxy/log.h"
#include "proxy/session.h"

namespace pgmask::proxy {
namespace {

absl::StatusOr<std::vector<tcp::endpoint>> ResolveUpstream(const HostPort& upstream) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(upstream.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(address, upstream.port)};
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(upstream.host, std::to_string(upstream.port), ec);
  if (ec || results.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot resolve upstream host \"", upstream.host, "\": ", ec.message()));
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& r : results) endpoints.push_back(r.endpoint());
  return endpoints;
}

}  // namespace

Server::Server(ServeConfig config) : state_(std::move(config)) {}

absl::Status Server::LoadTls() {
  const ServeConfig& c = state_.config;
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert and tls_key must be given together");
  }
  if (c.tls_require && c.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls_require needs tls_cert and tls_key");
  }
  if (!c.tls_cert_file.empty()) {
    if (absl::Status s = state_.client_tls.Load(c.tls_cert_file, c.tls_key_file); !s.ok()) return s;
  }
  if (c.upstream_sslmode != UpstreamSslMode::kDisable) {
    auto context = MakeUpstreamTlsContext(c.upstream_sslmode, c.upstream_sslrootcert);
    if (!context.ok()) return context.status();
    state_.upstream_tls = *std::move(context);
  }
  return absl::OkStatus();
}

void Server::ReloadTls() {
  const ServeConfig& c = state_.config;
  if (c.tls_cert_file.empty()) return;
  // New handshakes use the new files; sessions already encrypted keep the context they started with.
  if (absl::Status s = state_.client_tls.Load(c.tls_cert_file, c.tls_key_file); !s.ok()) {
    Logf(LogLevel::kError, "SIGHUP: TLS certificate not reloaded, the previous one stays: %s", s.message());
    return;
  }
  Logf(LogLevel::kInfo, "SIGHUP: TLS certificate and key reloaded");
}

absl::Status Server::LoadAuthFile() {
  const std::string& path = state_.config.auth_file;
  if (path.empty()) return absl::OkStatus();
  if (absl::Status s = state_.auth_file.Load(path); !s.ok()) return s;
  Logf(LogLevel::kInfo, "auth file loaded: %d users whose SCRAM login pgmask checks itself",
       state_.auth_file.current()->scram_users());
  return absl::OkStatus();
}

void Server::ReloadAuthFile() {
  // Sessions already past authentication are not affected; a file that does not load keeps the
  // one in force, as the TLS files do.
  if (absl::Status s = LoadAuthFile(); !s.ok()) {
    Logf(LogLevel::kError, "SIGHUP: auth file not reloaded, the previous one stays: %s", s.message());
  }
}

void Server::RaiseFileLimit() {
  // Each session holds two descriptors; the soft limit is often 1024 while the hard one is far
  // higher, so max_client_conn would otherwise fail at accept with EMFILE.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t wanted = static_cast<rlim_t>(state_.config.max_client_conn) * 2 + 64;
  limit.rlim_cur = std::min(limit.rlim_max, std::max(limit.rlim_cur, wanted));
  setrlimit(RLIMIT_NOFILE, &limit);
}

Server::~Server() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

absl::Status Server::Run() {
  SetLogLevel(state_.config.log_level);
  SetLogFormat(state_.config.log_format);
  auto endpoints = ResolveUpstream(state_.config.upstream);
  if (!endpoints.ok()) return endpoints.status();
  state_.upstream_endpoints = *std::move(endpoints);

  if (absl::Status s = LoadTls(); !s.ok()) return s;
  if (absl::Status s = LoadAuthFile(); !s.ok()) return s;
  RaiseFileLimit();

  if (!state_.config.policy_file.empty()) {
    auto keys = policy::LoadKeys(state_.config.token_key_file, state_.config.hash_key_file);
    if (!keys.ok()) return keys.status();
    if (absl::Status s = state_.policies.Load(state_.config.policy_file, *std::move(keys)); !s.ok()) return s;
  }
  auto audit = AuditService::Open(state_.config, state_.metrics);
  if (!audit.ok()) return audit.status();
  state_.audit = *std::move(audit);

  int threads = state_.config.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  Worker& main_worker = *workers_.front();

  tcp::acceptor acceptor(main_worker.io);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state_.config.listen.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("invalid listen address \"", state_.config.listen.host, "\""));
  const tcp::endpoint listen(address, state_.config.listen.port);
  if (acceptor.open(listen.protocol(), ec); !ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(listen, ec);
  }
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", state_.config.listen.host, ":",
                                               state_.config.listen.port, ": ", ec.message()));
  }
  const tcp::endpoint bound = acceptor.local_endpoint();

  AdminServer admin(state_, main_worker.io);
  if (state_.config.admin) {
    if (absl::Status s = admin.Listen(*state_.config.admin); !s.ok()) return s;
  }

  ::signal(SIGPIPE, SIG_IGN);
  asio::signal_set signals(main_worker.io, SIGINT, SIGTERM);
  signals.async_wait([this, &acceptor](const boost::system::error_code& e, int) {
    if (!e) asio::co_spawn(workers_.front()->io, Shutdown(acceptor), asio::detached);
  });

  asio::signal_set reload_signal(main_worker.io, SIGHUP);
  asio::co_spawn(main_worker.io, WatchPolicy(reload_signal), asio::detached);

  for (auto& w : workers_) guards_.push_back(asio::make_work_guard(w->io));
  asio::co_spawn(main_worker.io, Accept(acceptor), asio::detached);
  if (state_.config.admin) admin.Start();

  Logf(LogLevel::kInfo, "pgmask %s listening on %s:%d, upstream %s:%d, %d threads", PGMASK_VERSION,
       bound.address().to_string(), bound.port(), state_.config.upstream.host, state_.config.upstream.port,
       threads);
  // After the line above: tests read the first "listening on" as the SQL port.
  if (state_.config.admin) {
    const tcp::endpoint admin_bound = admin.local_endpoint();
    Logf(LogLevel::kInfo, "admin listening on %s:%d (/metrics, /healthz, /readyz)", admin_bound.address().to_string(),
         admin_bound.port());
  }
  for (size_t i = 1; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->thread = std::thread([w] { w->io.run(); });
  }
  main_worker.io.run();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (state_.audit != nullptr) {
    // Every session has ended: the trail is sealed after its last record.
    if (absl::Status s = state_.audit->Close(); !s.ok()) Logf(LogLevel::kError, "audit trail: %s", s.message());
  }
  Logf(LogLevel::kInfo, "pgmask stopped");
  return absl::OkStatus();
}

awaitable<void> Server::WatchPolicy(asio::signal_set& reload_signal) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer poll(workers_.front()->io);
  while (!state_.shutting_down.load()) {
    // Without a policy there is nothing to poll, but SIGHUP must still not end the process.
    poll.expires_after(state_.policies.enabled() ? absl::ToChronoNanoseconds(state_.config.policy_poll)
                                                 : std::chrono::hours(24));
    auto woke = co_await (reload_signal.async_wait(kUseTuple) || poll.async_wait(kUseTuple));
    if (state_.shutting_down.load()) break;
    if (woke.index() == 0) {
      ReloadTls();
      ReloadAuthFile();
      if (!state_.policies.enabled()) {
        Logf(LogLevel::kInfo, "SIGHUP: no policy configured, nothing to reload");
        continue;
      }
      Logf(LogLevel::kInfo, "SIGHUP: reloading the policy");
      const uint64_t rejected = state_.policies.rejected_reloads();
      const bool reloaded = state_.policies.Reload();
      RecordPolicyReload(reloaded, rejected);
    } else {
      const uint64_t rejected = state_.policies.rejected_reloads();
      const bool reloaded = state_.policies.ReloadIfChanged();
      RecordPolicyReload(reloaded, rejected);
    }
  }
}

void Server::RecordPolicyReload(bool reloaded, uint64_t rejected_before) {
  const bool rejected = state_.policies.rejected_reloads() != rejected_before;
  if (state_.audit == nullptr || (!reloaded && !rejected)) return;
  AuditEvent e;
  e.kind = AuditEventKind::kPolicyReload;
  e.time = absl::Now();
  e.outcome = reloaded ? "ok" : "rejected";
  e.policy = state_.policies.current()->sha256_hex();
  state_.audit->Record(e);
}

awaitable<void> Server::Accept(tcp::acceptor& acceptor) {
  size_t next = 0;
  for (;;) {
    Worker& worker = *workers_[next];
    next = (next + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor.async_accept(worker.io, kUseTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      Logf(LogLevel::kWarn, "accept failed: %s", ec.message());
      // Out of descriptors: back off instead of spinning on the same error.
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    state_.metrics.ConnectionAccepted();
    asio::co_spawn(worker.io, RunSession(worker, std::move(socket)), asio::detached);
  }
}

awaitable<void> Server::RunSession(Worker& worker, tcp::socket socket) {
  try {
    Session session(state_, worker.sessions, std::move(socket));
    co_await session.Run();
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "session ended by an internal error: %s", e.what());
  }
}

awaitable<void> Server::Shutdown(tcp::acceptor& acceptor) {
  Logf(LogLevel::kInfo, "shutting down: no new connections, %d open, grace %ds",
       state_.open_connections.load(), static_cast<int>(absl::ToInt64Seconds(state_.config.shutdown_grace)));
  state_.shutting_down.store(true);
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (auto& w : workers_) {
    asio::post(w->io, [w = w.get()] {
      for (Session* s : w->sessions.Snapshot()) s->RequestShutdown();
    });
  }
  asio::steady_timer poll(workers_.front()->io);
  const auto grace_end = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(state_.config.shutdown_grace);
  while (state_.open_connections.load() > 0 && std::chrono::steady_clock::now() < grace_end) {
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(kUseTuple);
  }
  if (state_.open_connections.load() > 0) {
    Logf(LogLevel::kInfo, "grace period over: closing %d connections", state_.open_connections.load());
    for (auto& w : workers_) {
      asio::post(w->io, [w = w.get()] {
        for (Session* s : w->sessions.Snapshot()) s->ForceClose();
      });
    }
  }
  // Sessions close their sockets promptly once told; wait a moment for them, then stop regardless.
  const auto close_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (state_.open_connections.load() > 0 && std::chrono::steady_clock::now() < close_end) {
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(kUseTuple);
  }
  guards_.clear();
  for (auto& w : workers_) w->io.stop();
}

}  // namespace pgmask::proxy
