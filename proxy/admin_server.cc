#include "proxy/admin_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "proxy/log.h"

namespace pgmask::proxy {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxHeaderBytes = 8192;
constexpr int kMaxConcurrentRequests = 16;
constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr auto kUpstreamCacheFor = std::chrono::seconds(1);
constexpr auto kUpstreamProbeTimeout = std::chrono::seconds(2);

std::string_view PathOf(std::string_view target) {
  const size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

bool IsKnownPath(std::string_view path) { return path == "/metrics" || path == "/healthz" || path == "/readyz"; }

}  // namespace

ReadinessCheck AuditSinkReadiness(const ProxyState& state) {
  if (state.audit == nullptr) return {"audit", true, "not configured"};
  // A degraded sink under audit_on_failure block refuses protected statements: send clients to a
  // replica whose trail is writable.
  if (state.audit->degraded()) return {"audit", !state.audit->blocks(), "degraded: records are queued"};
  return {"audit", true, "writable"};
}

AdminServer::AdminServer(ProxyState& state, asio::io_context& io) : state_(state), io_(io), acceptor_(io) {}

absl::Status AdminServer::Listen(const HostPort& at) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(at.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("invalid admin address \"", at.host, "\""));
  const tcp::endpoint endpoint(address, at.port);
  if (acceptor_.open(endpoint.protocol(), ec); !ec) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on admin address ", at.host, ":", at.port, ": ",
                                               ec.message()));
  }
  return absl::OkStatus();
}

tcp::endpoint AdminServer::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void AdminServer::Start() { asio::co_spawn(io_, Accept(), asio::detached); }

void AdminServer::Stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

awaitable<void> AdminServer::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (ec) {
      if (!acceptor_.is_open() || ec == asio::error::operation_aborted) co_return;
      Logf(LogLevel::kWarn, "admin accept failed: %s", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (*active_requests_ >= kMaxConcurrentRequests) {
      boost::system::error_code ignored;
      socket.close(ignored);  // the prober retries; an overloaded admin port must not grow without bound
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> AdminServer::Serve(tcp::socket socket) {
  using namespace asio::experimental::awaitable_operators;
  struct Release {
    std::shared_ptr<int> n;
    ~Release() { --*n; }
  } release{active_requests_};
  ++*release.n;

  asio::steady_timer deadline(io_, kRequestTimeout);
  boost::beast::flat_buffer buffer(kMaxHeaderBytes);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(0);
  auto read = co_await (http::async_read(socket, buffer, parser, kUseTuple) || deadline.async_wait(kUseTuple));
  if (read.index() != 0) co_return;  // too slow: drop the connection
  const boost::system::error_code read_error = std::get<0>(std::get<0>(read));

  Response response;
  if (read_error) {
    if (read_error == http::error::end_of_stream || read_error == asio::error::eof) co_return;
    response = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else {
    const auto& request = parser.get();
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view method(request.method_string().data(), request.method_string().size());
    response = co_await Handle(method, target);
  }

  http::response<http::string_body> out{static_cast<http::status>(response.status), 11};
  out.set(http::field::server, "pgmask");
  out.set(http::field::content_type, response.content_type);
  out.set(http::field::cache_control, "no-store");
  if (response.status == 405) out.set(http::field::allow, "GET");
  out.keep_alive(false);
  out.body() = std::move(response.body);
  out.prepare_payload();
  auto written = co_await (http::async_write(socket, out, kUseTuple) || deadline.async_wait(kUseTuple));
  (void)written;
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

awaitable<AdminServer::Response> AdminServer::Handle(std::string_view method, std::string_view target) {
  const std::string_view path = PathOf(target);
  if (!IsKnownPath(path)) co_return Response{404, "text/plain; charset=utf-8", "not found\n"};
  if (method != "GET") co_return Response{405, "text/plain; charset=utf-8", "method not allowed\n"};

  if (path == "/healthz") co_return Response{200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/metrics") {
    co_return Response{200, "text/plain; version=0.0.4; charset=utf-8", state_.metrics.Scrape(state_)};
  }

  // /readyz
  std::vector<ReadinessCheck> checks;
  const bool draining = state_.shutting_down.load(std::memory_order_relaxed);
  checks.push_back({"shutdown", !draining, draining ? "shutting down" : "accepting connections"});
  if (state_.policies.enabled()) {
    const auto policy = state_.policies.current();
    checks.push_back({"policy", policy != nullptr,
                      policy != nullptr ? absl::StrCat("sha256=", policy->sha256_hex()) : "not loaded"});
  } else {
    checks.push_back({"policy", true, "none configured (relaying unchanged)"});
  }
  const ReadinessCheck upstream = co_await CheckUpstream();
  checks.push_back(upstream);
  checks.push_back(AuditSinkReadiness(state_));

  bool ready = true;
  std::string body;
  for (const ReadinessCheck& c : checks) {
    ready = ready && c.ok;
    absl::StrAppendFormat(&body, "%s %s: %s\n", c.ok ? "ok" : "FAIL", c.name, c.detail);
  }
  co_return Response{ready ? 200 : 503, "text/plain; charset=utf-8", std::move(body)};
}

awaitable<ReadinessCheck> AdminServer::CheckUpstream() {
  using namespace asio::experimental::awaitable_operators;
  const auto now = std::chrono::steady_clock::now();
  if (upstream_checked_ != std::chrono::steady_clock::time_point{} && now - upstream_checked_ < kUpstreamCacheFor) {
    co_return upstream_result_;
  }
  const std::string where = absl::StrFormat("%s:%d", state_.config.upstream.host, state_.config.upstream.port);
  tcp::socket probe(io_);
  const auto timeout = std::min<std::chrono::steady_clock::duration>(
      kUpstreamProbeTimeout, absl::ToChronoNanoseconds(state_.config.connect_timeout));
  asio::steady_timer deadline(io_, timeout);
  auto connected =
      co_await (asio::async_connect(probe, state_.upstream_endpoints, kUseTuple) || deadline.async_wait(kUseTuple));
  boost::system::error_code ec = asio::error::timed_out;
  if (connected.index() == 0) ec = std::get<0>(std::get<0>(connected));
  boost::system::error_code ignored;
  probe.close(ignored);
  ReadinessCheck result{"upstream", !ec, ec ? absl::StrFormat("cannot connect to %s: %s", where, ec.message())
                                           : absl::StrFormat("%s accepts connections", where)};
  upstream_checked_ = std::chrono::steady_clock::now();
  upstream_result_ = result;
  co_return result;
}

}  // namespace pgmask::proxy
