#include "proxy/session.h"

#include <openssl/rand.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <exception>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "policy/function_rules.h"
#include "protocol/messages.h"
#include "protocol/string_view_bridge.h"
#include "proxy/client_sink.h"
#include "proxy/log.h"
#include "proxy/server_sink.h"
#include "proxy/session_list.h"

namespace pgmask::proxy {

using protocol::Direction;
using protocol::FrameHeader;
using protocol::MessageType;

namespace {

enum class ReplicationMode { kNone, kLogical, kPhysical };

// The startup parameter `replication`: a boolean for physical replication, "database" for
// logical replication (which also runs SQL).
ReplicationMode ReplicationModeOf(std::string_view value) {
  if (absl::EqualsIgnoreCase(ToAbsl(value), "database")) return ReplicationMode::kLogical;
  for (std::string_view on : {"true", "on", "yes", "1"}) {
    if (absl::EqualsIgnoreCase(ToAbsl(value), ToAbsl(on))) return ReplicationMode::kPhysical;
  }
  return ReplicationMode::kNone;
}

// PostgreSQL's own cap on one authentication message (PG_MAX_AUTH_TOKEN_LENGTH).
constexpr uint32_t kMaxAuthMessage = 65535;
// How many SSLRequest/GSSENCRequest rounds a client may make before its StartupMessage.
constexpr int kMaxNegotiations = 2;

std::string NewSessionId() {
  uint8_t bytes[6];
  RAND_bytes(bytes, sizeof bytes);
  return absl::StrFormat("%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
}

std::string EndpointText(const tcp::socket& s) {
  boost::system::error_code ec;
  const tcp::endpoint ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  return absl::StrCat(ep.address().to_string(), ":", ep.port());
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// Authentication requests that the client answers with a 'p' message.
bool ExpectsClientResponse(int32_t code) {
  switch (code) {
    case 3:   // cleartext password
    case 5:   // md5
    case 7:   // GSS
    case 9:   // SSPI
    case 10:  // SASL
    case 11:  // SASL continue
      return true;
    default:
      return false;
  }
}

bool IsFatal(std::string_view severity) { return severity == "FATAL" || severity == "PANIC"; }

}  // namespace

Session::Session(ProxyState& state, SessionList& list, tcp::socket client)
    : proxy_(state),
      list_(list),
      state_(state),
      client_(std::move(client)),
      upstream_(client_.get_executor()),
      client_pump_(client_, Direction::kFrontend, state.config.max_message_size),
      upstream_pump_(upstream_, Direction::kBackend, state.config.max_message_size),
      client_writer_(client_.get_executor()) {
  state_.id = NewSessionId();
  list_.Add(this);
  proxy_.open_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  if (has_cancel_key_) proxy_.cancel_registry.Unregister(client_key_);
  if (admitted_) proxy_.admitted_sessions.fetch_sub(1, std::memory_order_relaxed);
  proxy_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  list_.Remove(this);
}

bool Session::CanWriteToClient() const { return client_.is_open() && upstream_pump_.at_message_boundary(); }

awaitable<bool> Session::WriteToClient(std::string_view bytes) {
  co_await client_writer_.Lock();
  auto [ec, n] = co_await asio::async_write(client_, asio::buffer(bytes), kUseTuple);
  client_writer_.Unlock();
  co_return !ec;
}

awaitable<void> Session::SendClientError(std::string_view severity, std::string_view sqlstate,
                                         std::string_view message) {
  if (!CanWriteToClient()) co_return;
  std::string bytes;
  protocol::WriteErrorResponse(bytes, {severity, sqlstate, message});
  co_await WriteToClient(bytes);
}

awaitable<void> Session::Run() {
  const absl::Time started = absl::Now();
  peer_ = EndpointText(client_);
  Logf(LogLevel::kInfo, "session=%s open client=%s", state_.id, peer_);
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  client_.non_blocking(true, ignored);
  Ending ending;
  try {
    ending = co_await HandshakeWithDeadline();
    if (ending.reason.empty()) {
      ending = co_await RelayTraffic();
    }
  } catch (const std::exception& e) {
    ending.reason = absl::StrFormat("internal error: %s", e.what());
  }
  proxy_.metrics.SessionEnded(phase_ == SessionPhase::kReady, ending.reason);
  phase_ = SessionPhase::kClosing;
  client_.close(ignored);
  upstream_.close(ignored);
  Logf(LogLevel::kInfo, "session=%s close reason=\"%s\" duration_ms=%d", state_.id, ending.reason,
       absl::ToInt64Milliseconds(absl::Now() - started));
}

awaitable<Session::Ending> Session::HandshakeWithDeadline() {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(client_.get_executor(), ToChrono(proxy_.config.startup_timeout));
  auto result = co_await (Handshake() || deadline.async_wait(asio::use_awaitable));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  // The handshake was cut at an arbitrary point; only say why if no message is half written.
  if (!client_writer_.busy()) {
    co_await SendClientError("FATAL", "57014", "canceling authentication due to timeout");
  }
  co_return Ending{"startup timeout"};
}

awaitable<bool> Session::ReadStartupPacket(protocol::StartupPacket& packet, std::string& raw, Ending& ending) {
  for (int round = 0; round <= kMaxNegotiations; ++round) {
    const bool have_length = co_await client_pump_.Fill(4);
    if (!have_length) {
      ending.reason = "client closed before startup";
      co_return false;
    }
    const protocol::StartupLength length = protocol::DecodeStartupLength(client_pump_.Buffered());
    if (length.status == protocol::DecodeStatus::kViolation) {
      co_await SendClientError("FATAL", "08P01", length.violation);
      ending.reason = std::string(length.violation);
      co_return false;
    }
    const bool have_packet = co_await client_pump_.Fill(length.length);
    if (!have_packet) {
      ending.reason = "client closed during startup packet";
      co_return false;
    }
    raw.assign(reinterpret_cast<const char*>(client_pump_.Buffered().data()), length.length);
    client_pump_.Consume(length.length);
    auto parsed = protocol::ParseStartupPacket(
        protocol::Bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
    if (!parsed.ok()) {
      const bool unsupported = parsed.status().code() == absl::StatusCode::kUnimplemented;
      co_await SendClientError("FATAL", unsupported ? "0A000" : "08P01", ToStd(parsed.status().message()));
      ending.reason = std::string(parsed.status().message());
      co_return false;
    }
    if (parsed->kind == protocol::StartupKind::kSslRequest || parsed->kind == protocol::StartupKind::kGssEncRequest) {
      // Neither is offered yet: 'N' tells the client to go on in plaintext on this connection.
      const bool answered = co_await WriteToClient("N");
      if (!answered) {
        ending.reason = "client closed during negotiation";
        co_return false;
      }
      continue;
    }
    packet = *parsed;
    co_return true;
  }
  co_await SendClientError("FATAL", "08P01", "too many encryption requests");
  ending.reason = "too many encryption requests";
  co_return false;
}

awaitable<Session::Ending> Session::Handshake() {
  protocol::StartupPacket packet;
  std::string raw;
  Ending ending;
  const bool have_packet = co_await ReadStartupPacket(packet, raw, ending);
  if (!have_packet) co_return ending;
  if (packet.kind == protocol::StartupKind::kCancelRequest) {
    ending = co_await RelayCancel(packet.cancel_key);
    co_return ending;
  }

  user_ = std::string(packet.params.Get("user").value_or(""));
  database_ = std::string(packet.params.Get("database").value_or(user_));
  state_.database = database_;
  replication_ = std::string(packet.params.Get("replication").value_or(""));
  std::vector<std::pair<std::string_view, std::string_view>> parameters;
  packet.params.ForEach([&](std::string_view key, std::string_view value) { parameters.emplace_back(key, value); });
  startup_setting_refusal_ = policy::StartupSettingReason(parameters).value_or("");
  Logf(LogLevel::kInfo, "session=%s login user=%s database=%s", state_.id, user_, database_);
  if (proxy_.shutting_down.load(std::memory_order_relaxed)) {
    co_await SendClientError("FATAL", "57P01", "pgmask is shutting down");
    co_return Ending{"refused: shutting down"};
  }
  if (state_.policy_enabled() && ReplicationModeOf(replication_) == ReplicationMode::kPhysical) {
    // A physical replication stream carries every table's pages: nothing in it can be masked,
    // whoever asks.
    co_await SendClientError("FATAL", "42501",
                             "pgmask does not relay physical replication connections while a policy is loaded");
    co_return Ending{"physical replication refused"};
  }
  if (proxy_.admitted_sessions.fetch_add(1, std::memory_order_relaxed) >= proxy_.config.max_client_conn) {
    proxy_.admitted_sessions.fetch_sub(1, std::memory_order_relaxed);
    co_await SendClientError("FATAL", "53300", "sorry, too many clients already");
    co_return Ending{"refused: too many clients"};
  }
  admitted_ = true;
  const bool connected = co_await ConnectUpstream(ending);
  if (!connected) co_return ending;
  auto [ec, n] = co_await asio::async_write(upstream_, asio::buffer(raw), kUseTuple);
  if (ec) {
    co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
    co_return Ending{"upstream write failed"};
  }
  phase_ = SessionPhase::kAuthenticating;
  ending = co_await RelayAuthentication();
  co_return ending;
}

awaitable<bool> Session::ConnectUpstream(Ending& ending) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(client_.get_executor(), ToChrono(proxy_.config.connect_timeout));
  auto result = co_await (asio::async_connect(upstream_, proxy_.upstream_endpoints, kUseTuple) ||
                          deadline.async_wait(asio::use_awaitable));
  boost::system::error_code ec = asio::error::timed_out;
  if (result.index() == 0) ec = std::get<0>(std::get<0>(result));
  if (ec) {
    Logf(LogLevel::kWarn, "session=%s upstream connect failed: %s", state_.id, ec.message());
    co_await SendClientError("FATAL", "08001", "pgmask could not connect to the upstream server");
    ending.reason = "upstream unreachable";
    co_return false;
  }
  boost::system::error_code ignored;
  upstream_.set_option(tcp::no_delay(true), ignored);
  upstream_.non_blocking(true, ignored);
  co_return true;
}

awaitable<Session::Ending> Session::RelayAuthentication() {
  // Server messages are batched towards the client until the server has nothing more buffered.
  std::string to_client;
  auto flush = [&]() -> awaitable<bool> {
    if (to_client.empty()) co_return true;
    const bool ok = co_await WriteToClient(to_client);
    to_client.clear();
    co_return ok;
  };
  for (;;) {
    if (upstream_pump_.Buffered().size() < protocol::kFrameHeaderSize) {
      const bool flushed = co_await flush();
      if (!flushed) co_return Ending{"client closed during authentication"};
    }
    auto frame = co_await upstream_pump_.ReadFrame(kMaxAuthMessage);
    if (!frame.ok) {
      co_await flush();
      if (frame.end.end == PumpEnd::kViolation) {
        co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
        co_return Ending{absl::StrFormat("upstream protocol violation: %s", frame.end.detail)};
      }
      if (!state_.upstream_sent_fatal) {
        co_await SendClientError("FATAL", "08006", "the upstream server closed the connection");
      }
      co_return Ending{"upstream closed during authentication"};
    }
    const size_t size = frame.header.frame_size();
    const std::span<uint8_t> bytes = upstream_pump_.Buffered().first(size);
    const protocol::Bytes body = bytes.subspan(protocol::kFrameHeaderSize);
    const std::string_view as_text(reinterpret_cast<const char*>(bytes.data()), size);
    bool wants_response = false;
    bool done = false;
    switch (frame.header.type()) {
      case MessageType::kAuthentication: {
        const auto code = protocol::ParseAuthenticationCode(body);
        if (!code.ok()) {
          co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
          co_return Ending{"upstream protocol violation: authentication"};
        }
        wants_response = ExpectsClientResponse(*code);
        to_client.append(as_text);
        break;
      }
      case MessageType::kBackendKeyData: {
        const auto key = protocol::ParseBackendKeyData(body);
        if (!key.ok() || has_cancel_key_) {
          co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
          co_return Ending{"upstream protocol violation: key data"};
        }
        client_key_ = proxy_.cancel_registry.Register({upstream_.remote_endpoint(), *key});
        has_cancel_key_ = true;
        protocol::WriteBackendKeyData(to_client, client_key_);
        break;
      }
      case MessageType::kErrorResponse: {
        const auto error = protocol::ParseErrorNotice(body);
        if (error.ok() && IsFatal(error->severity())) state_.upstream_sent_fatal = true;
        to_client.append(as_text);
        break;
      }
      case MessageType::kReadyForQuery: {
        const auto status = protocol::ParseReadyForQuery(body);
        state_.idle = status.ok() && *status == 'I';
        to_client.append(as_text);
        done = true;
        break;
      }
      case MessageType::kParameterStatus: {
        const auto parameter = protocol::ParseParameterStatus(body);
        if (parameter.ok()) state_.NoteParameter(parameter->name, parameter->value);
        to_client.append(as_text);
        break;
      }
      case MessageType::kNoticeResponse:
      case MessageType::kNegotiateProtocolVersion:
        to_client.append(as_text);
        break;
      default:
        co_await flush();
        co_await SendClientError("FATAL", "08P01", "the upstream server sent an unexpected message during startup");
        co_return Ending{"upstream protocol violation: unexpected message during startup"};
    }
    upstream_pump_.Consume(size);
    if (done && state_.policy_enabled()) {
      const ReplicationMode replication = ReplicationModeOf(replication_);
      const bool loaded = co_await LoadCatalog();
      if (!loaded) {
        co_await SendClientError("FATAL", "XX000", "pgmask could not read the catalog it needs to apply the policy");
        co_return Ending{"catalog could not be read"};
      }
      std::string refusal;
      if (!state_.all_clear) {
        if (replication == ReplicationMode::kLogical) {
          refusal = "pgmask: replication connections are not allowed for roles that do not see every class in clear";
        } else if (!startup_setting_refusal_.empty()) {
          refusal = "pgmask: connection refused: " + startup_setting_refusal_;
        } else if (!state_.text_settings_refusal.empty()) {
          refusal = state_.text_settings_refusal;
        }
      }
      if (!refusal.empty()) {
        // What PostgreSQL said so far (AuthenticationOk, parameters) stays unsent: the client
        // gets the refusal instead of a session.
        to_client.clear();
        co_await SendClientError("FATAL", "42501", refusal);
        co_return Ending{"startup refused for a restricted role"};
      }
    }
    if (done) {
      const bool flushed = co_await flush();
      if (!flushed) co_return Ending{"client closed during startup"};
      phase_ = SessionPhase::kReady;
      co_return Ending{};
    }
    if (wants_response) {
      const bool flushed = co_await flush();
      if (!flushed) co_return Ending{"client closed during authentication"};
      auto answer = co_await client_pump_.ReadFrame(kMaxAuthMessage);
      if (!answer.ok) {
        if (answer.end.end == PumpEnd::kViolation) {
          co_await SendClientError("FATAL", "08P01", answer.end.detail);
          co_return Ending{absl::StrFormat("protocol violation: %s", answer.end.detail)};
        }
        co_return Ending{"client closed during authentication"};
      }
      if (answer.header.type() != MessageType::kPassword) {
        co_await SendClientError("FATAL", "08P01", "expected a password response");
        co_return Ending{"protocol violation: expected a password response"};
      }
      const size_t answer_size = answer.header.frame_size();
      auto [ec, n] = co_await asio::async_write(
          upstream_, asio::buffer(client_pump_.Buffered().data(), answer_size), kUseTuple);
      client_pump_.Consume(answer_size);
      if (ec) {
        co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
        co_return Ending{"upstream write failed"};
      }
    }
    if (state_.upstream_sent_fatal) {
      co_await flush();
      co_return Ending{"upstream refused the login"};
    }
  }
}

awaitable<bool> Session::LoadCatalog() {
  state_.policy_generation = proxy_.policies.generation();
  CatalogRefresh refresh(proxy_.policies.current(), proxy_.catalogs.Get(database_));
  std::string query;
  protocol::MessageWriter w(query);
  w.Begin(protocol::FrontendTag(MessageType::kQuery)).CString(refresh.Query());
  w.End();
  auto [ec, n] = co_await asio::async_write(upstream_, asio::buffer(query), kUseTuple);
  if (ec) co_return false;
  std::vector<protocol::WireValue> row;
  for (;;) {
    auto frame = co_await upstream_pump_.ReadFrame(proxy_.config.max_message_size);
    if (!frame.ok) co_return false;
    const size_t size = frame.header.frame_size();
    const protocol::Bytes body = upstream_pump_.Buffered().subspan(protocol::kFrameHeaderSize, size - protocol::kFrameHeaderSize);
    switch (frame.header.type()) {
      case MessageType::kDataRow:
        if (protocol::ParseDataRow(body, row).ok()) {
          refresh.AddRow(row);
        } else {
          refresh.Fail();
        }
        break;
      case MessageType::kErrorResponse:
        refresh.Fail();
        break;
      case MessageType::kReadyForQuery: {
        upstream_pump_.Consume(size);
        auto catalog = std::move(refresh).Finish(proxy_.catalogs, database_);
        if (!catalog.ok()) {
          Logf(LogLevel::kWarn, "session=%s catalog could not be read: %s", state_.id, catalog.status().message());
          co_return false;
        }
        state_.ActivateCatalog(*std::move(catalog));
        co_return true;
      }
      default:
        break;  // RowDescription, CommandComplete, notices
    }
    upstream_pump_.Consume(size);
  }
}

awaitable<Session::Ending> Session::RelayCancel(const protocol::CancelKey& key) {
  const std::optional<CancelTarget> target = proxy_.cancel_registry.Find(key);
  if (!target) co_return Ending{"cancel request with an unknown key"};
  using namespace asio::experimental::awaitable_operators;
  tcp::socket cancel_socket(client_.get_executor());
  asio::steady_timer deadline(client_.get_executor(), ToChrono(proxy_.config.connect_timeout));
  auto connected = co_await (cancel_socket.async_connect(target->upstream, kUseTuple) ||
                             deadline.async_wait(asio::use_awaitable));
  if (connected.index() != 0 || std::get<0>(std::get<0>(connected))) {
    co_return Ending{"cancel request: upstream unreachable"};
  }
  std::string request;
  protocol::WriteCancelRequest(request, target->upstream_key);
  co_await asio::async_write(cancel_socket, asio::buffer(request), kUseTuple);
  co_return Ending{"cancel request relayed"};
}

awaitable<Session::Ending> Session::RelayTraffic() {
  using namespace asio::experimental::awaitable_operators;
  ClientSink client_sink(state_);
  ServerSink server_sink(state_, upstream_pump_);
  state_.release_client = [this] { client_pump_.Release(); };
  auto result = co_await (client_pump_.Relay(upstream_, client_sink, nullptr) ||
                          upstream_pump_.Relay(client_, server_sink, &client_writer_));
  if (result.index() == 0) {
    const PumpResult r = std::get<0>(result);
    switch (r.end) {
      case PumpEnd::kStopped:
        co_return Ending{"client terminated"};
      case PumpEnd::kViolation:
        Logf(LogLevel::kWarn, "session=%s client protocol violation: %s", state_.id, r.detail);
        co_await SendClientError("FATAL", "08P01", r.detail);
        co_return Ending{absl::StrFormat("client protocol violation: %s", r.detail)};
      case PumpEnd::kWriteError:
        co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
        co_return Ending{"upstream write failed"};
      case PumpEnd::kPeerClosed:
      case PumpEnd::kReadError:
        if (client_pump_.at_message_boundary()) {
          std::string terminate;
          protocol::WriteTerminate(terminate);
          co_await asio::async_write(upstream_, asio::buffer(terminate), kUseTuple);
        }
        co_return Ending{"client disconnected"};
    }
  }
  const PumpResult r = std::get<1>(result);
  if (state_.server_violation) {
    Logf(LogLevel::kWarn, "session=%s upstream sent a malformed result message", state_.id);
    co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
    co_return Ending{"upstream protocol violation: malformed result"};
  }
  switch (r.end) {
    case PumpEnd::kStopped:
      co_return Ending{state_.goodbye_sent ? "shutdown" : "stopped"};
    case PumpEnd::kViolation:
      Logf(LogLevel::kWarn, "session=%s upstream protocol violation: %s", state_.id, r.detail);
      co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
      co_return Ending{absl::StrFormat("upstream protocol violation: %s", r.detail)};
    case PumpEnd::kWriteError:
      co_return Ending{"client disconnected"};
    case PumpEnd::kPeerClosed:
    case PumpEnd::kReadError:
      if (!state_.upstream_sent_fatal) {
        co_await SendClientError("FATAL", "08006", "the upstream server closed the connection unexpectedly");
      }
      co_return Ending{"upstream closed"};
  }
  co_return Ending{"ended"};
}

void Session::RequestShutdown() {
  state_.shutdown_requested = true;
  if (phase_ == SessionPhase::kReady && state_.idle) upstream_pump_.Wake();
}

void Session::ForceClose() {
  boost::system::error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
}

}  // namespace pgmask::proxy
