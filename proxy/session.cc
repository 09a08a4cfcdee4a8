#include "proxy/session.h"

#include <openssl/rand.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "policy/function_rules.h"
#include "protocol/messages.h"
#include "protocol/sasl_mechanisms.h"
#include "protocol/sasl_messages.h"
#include "protocol/string_view_bridge.h"
#include "proxy/client_sink.h"
#include "proxy/log.h"
#include "proxy/server_sink.h"
#include "proxy/break_glass.h"
#include "proxy/session_audit.h"
#include "proxy/session_list.h"

namespace pgmask::proxy {

using protocol::Direction;
using protocol::FrameHeader;
using protocol::MessageType;

namespace {

enum class ReplicationMode { kNone, kLogical, kPhysical };

// Whether sessions need Session::Watchdog.
bool HasTimeLimit(const ServeConfig& config) {
  const absl::Duration zero = absl::ZeroDuration();
  return config.idle_timeout > zero || config.idle_in_transaction_timeout > zero ||
         config.max_session_lifetime > zero;
}

// The startup parameter `replication` read as PostgreSQL's parse_bool reads a false value: a
// prefix of "false" or "no", "of" or "off", or "0", in any case.
bool IsFalseBoolean(std::string_view value) {
  const auto prefix_of = [value](std::string_view word, size_t shortest) {
    return value.size() >= shortest && value.size() <= word.size() &&
           absl::EqualsIgnoreCase(ToAbsl(value), ToAbsl(word.substr(0, value.size())));
  };
  return prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || value == "0";
}

// The startup parameter `replication`: "database" for logical replication (which also runs SQL),
// a false boolean (or none) for none. Anything else is physical replication: PostgreSQL accepts
// every unique prefix of "true" and "yes" ("t", "ye"), and refuses what it cannot read at all.
ReplicationMode ReplicationModeOf(std::string_view value) {
  if (value.empty() || IsFalseBoolean(value)) return ReplicationMode::kNone;
  if (absl::EqualsIgnoreCase(ToAbsl(value), "database")) return ReplicationMode::kLogical;
  return ReplicationMode::kPhysical;
}

// What the client is told when its login's catalog read fails: the server's SQLSTATE when the
// read ran out of catalog_timeout, so that the cause is plain.
std::pair<std::string_view, std::string> CatalogReadFailure(std::string_view server_sqlstate) {
  constexpr std::string_view kCannotRead = "pgmask could not read the catalog it needs to apply the policy";
  if (server_sqlstate == "55P03") {
    return {"55P03", absl::StrFormat("%s: another transaction holds a lock on a relation it reads (waited "
                                     "catalog_timeout)", kCannotRead)};
  }
  if (server_sqlstate == "57014") {
    return {"57014", absl::StrFormat("%s: the read was canceled or ran longer than catalog_timeout", kCannotRead)};
  }
  return {"XX000", std::string(kCannotRead)};
}

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

// SCRAM channel binding verifies through pgmask only when both hops are TLS and the certificate
// pgmask presents to the client is the one the server presented to pgmask: the client then binds
// to exactly what the server binds to (sasl_mechanisms.h).
bool ChannelBindingCrossesPgmask(const Stream& client, const Stream& upstream) {
  if (!client.tls() || !upstream.tls()) return false;
  const std::string presented = client.tls_server_end_point();
  return !presented.empty() && presented == upstream.tls_server_end_point();
}

constexpr char kChannelBindingRefusal[] =
    "pgmask cannot relay SCRAM channel binding: the client's TLS connection ends at pgmask, which "
    "does not present the database server's certificate. List the user in pgmask's auth file "
    "(auth_file), configure pgmask with the server's certificate and key (tls_cert, tls_key) or a "
    "plaintext upstream (upstream_sslmode: disable), or connect with channel_binding=disable";

}  // namespace

Session::Session(ProxyState& state, SessionList& list, tcp::socket client)
    : proxy_(state),
      list_(list),
      state_(state),
      client_(std::move(client)),
      upstream_(tcp::socket(client_.get_executor())),
      client_pump_(client_, Direction::kFrontend, state.config.max_message_size),
      upstream_pump_(upstream_, Direction::kBackend, state.config.max_message_size),
      client_writer_(client_.get_executor()) {
  state_.id = NewSessionId();
  list_.Add(this);
  proxy_.open_connections.fetch_add(1, std::memory_order_relaxed);
  starting_rank_ = proxy_.starting_connections.fetch_add(1, std::memory_order_relaxed) + 1;
}

Session::~Session() {
  if (has_cancel_key_) proxy_.cancel_registry.Unregister(client_key_);
  ReleaseAdmission();
  LeaveStartup();
  proxy_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  list_.Remove(this);
}

void Session::ReleaseAdmission() {
  if (admitted_) proxy_.admitted_sessions.fetch_sub(1, std::memory_order_relaxed);
  admitted_ = false;
  if (limits_admitted_) proxy_.limits.Release(user_, database_);
  limits_admitted_ = false;
}

void Session::LeaveStartup() {
  if (!starting_) return;
  starting_ = false;
  proxy_.starting_connections.fetch_sub(1, std::memory_order_relaxed);
}

bool Session::CanWriteToClient() const { return client_.is_open() && upstream_pump_.at_message_boundary(); }

awaitable<bool> Session::WriteToClient(std::string_view bytes) {
  co_await client_writer_.Lock();
  auto [ec, n] = co_await client_.Write(asio::buffer(bytes));
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
  started_ = absl::Now();
  peer_ = EndpointText(client_.socket());
  state_.client = peer_;
  Logf(LogLevel::kInfo, "session=%s open client=%s", state_.id, peer_);
  boost::system::error_code ignored;
  client_.socket().set_option(tcp::no_delay(true), ignored);
  client_.socket().non_blocking(true, ignored);
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
  if (proxy_.audit != nullptr) RecordConnectionEnd(*proxy_.audit, state_, phase_ == SessionPhase::kReady, ending.reason);
  EndBreakGlass(state_, "session_end");
  phase_ = SessionPhase::kClosing;
  client_.Close();
  upstream_.Close();
  ReleaseAdmission();
  Logf(LogLevel::kInfo, "session=%s close reason=\"%s\" duration_ms=%d", state_.id, ending.reason,
       absl::ToInt64Milliseconds(absl::Now() - started_));
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
      if (client_.tls()) {
        co_await SendClientError("FATAL", "08P01", "encryption request on an encrypted connection");
        ending.reason = "encryption request on an encrypted connection";
        co_return false;
      }
      if (parsed->kind == protocol::StartupKind::kSslRequest && proxy_.client_tls.current() != nullptr) {
        const bool secured = co_await AcceptTls(ending);
        if (!secured) co_return false;
        continue;
      }
      // GSSAPI encryption is never offered, TLS only with a certificate: 'N' tells the client to
      // go on in plaintext on this connection (or to ask for TLS next).
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

awaitable<bool> Session::AcceptDirectTls(Ending& ending) {
  auto [ready] = co_await client_.socket().async_wait(tcp::socket::wait_read, kUseTuple);
  if (ready) co_return true;  // the startup read that follows reports it
  // A TLS ClientHello starts with the handshake record type 22; a startup packet never does (its
  // length would exceed any packet pgmask accepts).
  constexpr uint8_t kTlsHandshakeRecord = 0x16;
  uint8_t first = 0;
  boost::system::error_code ec;
  const size_t n = client_.socket().receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec);
  if (ec || n == 0 || first != kTlsHandshakeRecord) co_return true;
  const boost::system::error_code handshake =
      co_await client_.StartTls(proxy_.client_tls.current(), ssl::stream_base::server);
  if (handshake) {
    ending.reason = absl::StrFormat("TLS handshake failed: %s", handshake.message());
    co_return false;
  }
  // As PostgreSQL 17: a direct TLS connection must name the protocol, so that a TLS connection
  // meant for another service cannot be replayed against this one.
  if (client_.tls_alpn() != "postgresql") {
    co_await SendClientError("FATAL", "08P01", "direct TLS connections must negotiate the ALPN protocol \"postgresql\"");
    ending.reason = "direct TLS without ALPN postgresql";
    co_return false;
  }
  state_.tls_version = std::string(client_.tls_version());
  state_.tls_cipher = std::string(client_.tls_cipher());
  co_return true;
}

awaitable<bool> Session::AcceptTls(Ending& ending) {
  // Bytes that follow the SSLRequest before the handshake were sent in clear, and an attacker on
  // the path could have put them there to be read as if they came over TLS (CVE-2021-23222).
  if (!client_pump_.Buffered().empty()) {
    ending.reason = "received unencrypted data after SSL request";
    co_return false;
  }
  const bool answered = co_await WriteToClient("S");
  if (!answered) {
    ending.reason = "client closed during negotiation";
    co_return false;
  }
  const boost::system::error_code handshake =
      co_await client_.StartTls(proxy_.client_tls.current(), ssl::stream_base::server);
  if (handshake) {
    ending.reason = absl::StrFormat("TLS handshake failed: %s", handshake.message());
    co_return false;
  }
  state_.tls_version = std::string(client_.tls_version());
  state_.tls_cipher = std::string(client_.tls_cipher());
  co_return true;
}

awaitable<bool> Session::StartUpstreamTls(Ending& ending) {
  const UpstreamSslMode mode = proxy_.config.upstream_sslmode;
  std::string request;
  protocol::WriteSslRequest(request);
  auto [wec, wn] = co_await upstream_.Write(asio::buffer(request));
  // One byte only: whatever follows belongs to the handshake, and a server that sends more than
  // its answer fails it.
  char answer = 0;
  boost::system::error_code rec = wec;
  if (!wec) {
    auto [ec, n] = co_await asio::async_read(upstream_.socket(), asio::buffer(&answer, 1), kUseTuple);
    rec = ec;
  }
  if (rec) {
    co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
    ending.reason = "upstream closed during TLS negotiation";
    co_return false;
  }
  if (answer == 'N' && mode == UpstreamSslMode::kPrefer) co_return true;
  if (answer != 'S') {
    co_await SendClientError("FATAL", "08001", "the upstream server does not accept TLS connections");
    ending.reason = "upstream unreachable: no TLS";
    co_return false;
  }
  const std::string_view host =
      mode == UpstreamSslMode::kVerifyFull ? std::string_view(proxy_.config.upstream.host) : std::string_view();
  const boost::system::error_code handshake =
      co_await upstream_.StartTls(proxy_.upstream_tls, ssl::stream_base::client, host);
  if (handshake) {
    Logf(LogLevel::kWarn, "session=%s upstream TLS handshake failed: %s", state_.id, handshake.message());
    co_await SendClientError("FATAL", "08001", "pgmask could not establish TLS with the upstream server");
    ending.reason = "upstream unreachable: TLS handshake failed";
    co_return false;
  }
  co_return true;
}

awaitable<Session::Ending> Session::Handshake() {
  protocol::StartupPacket packet;
  std::string raw;
  Ending ending;
  if (proxy_.client_tls.current() != nullptr) {
    const bool direct_ok = co_await AcceptDirectTls(ending);
    if (!direct_ok) co_return ending;
  }
  const bool have_packet = co_await ReadStartupPacket(packet, raw, ending);
  if (!have_packet) co_return ending;
  if (packet.kind == protocol::StartupKind::kCancelRequest) {
    ending = co_await RelayCancel(packet.cancel_key);
    co_return ending;
  }

  user_ = std::string(packet.params.Get("user").value_or(""));
  database_ = std::string(packet.params.Get("database").value_or(user_));
  state_.database = database_;
  state_.user = user_;
  state_.application = SanitizeApplicationName(packet.params.Get("application_name").value_or(""));
  replication_ = std::string(packet.params.Get("replication").value_or(""));
  std::vector<std::pair<std::string_view, std::string_view>> parameters;
  packet.params.ForEach([&](std::string_view key, std::string_view value) { parameters.emplace_back(key, value); });
  startup_setting_refusal_ = policy::StartupSettingReason(parameters).value_or("");
  Logf(LogLevel::kInfo, "session=%s login user=%s database=%s", state_.id, user_, database_);
  if (proxy_.shutting_down.load(std::memory_order_relaxed)) {
    co_await SendClientError("FATAL", "57P01", "pgmask is shutting down");
    co_return Ending{"refused: shutting down"};
  }
  if (proxy_.config.tls_require && !client_.tls()) {
    co_await SendClientError("FATAL", "28000", "pgmask accepts TLS connections only: connect with sslmode=require");
    co_return Ending{"refused: TLS required"};
  }
  if (proxy_.config.max_startup_conn > 0 && starting_rank_ > proxy_.config.max_startup_conn) {
    co_await SendClientError("FATAL", "53300", "sorry, too many clients are logging in already");
    co_return Ending{"refused: too many clients logging in"};
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
  const std::string over_limit = proxy_.limits.Admit(user_, database_);
  if (!over_limit.empty()) {
    co_await SendClientError("FATAL", "53300", over_limit);
    co_return Ending{absl::StrCat("refused: too many clients: ", over_limit)};
  }
  limits_admitted_ = true;
  const bool connected = co_await ConnectUpstream(ending);
  if (!connected) co_return ending;
  auto [ec, n] = co_await upstream_.Write(asio::buffer(raw));
  if (ec) {
    co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
    co_return Ending{"upstream write failed"};
  }
  phase_ = SessionPhase::kAuthenticating;
  const std::optional<scram::Verifier> verifier = AuthFileVerifier();
  if (verifier) {
    ending = co_await TerminateScram(*verifier);
    co_return ending;
  }
  ending = co_await RelayAuthentication();
  co_return ending;
}

awaitable<bool> Session::ConnectUpstream(Ending& ending) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(client_.get_executor(), ToChrono(proxy_.config.connect_timeout));
  auto result = co_await (asio::async_connect(upstream_.socket(), proxy_.upstream_endpoints, kUseTuple) ||
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
  upstream_.socket().set_option(tcp::no_delay(true), ignored);
  upstream_.socket().non_blocking(true, ignored);
  if (proxy_.upstream_tls) {
    const bool secured = co_await StartUpstreamTls(ending);
    co_return secured;
  }
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
  // Set when the client's next 'p' is a SASLInitialResponse to a mechanism list pgmask removed
  // channel binding from, over an upstream TLS connection.
  bool binding_removed = false;
  for (;;) {
    if (upstream_pump_.Buffered().size() < protocol::kFrameHeaderSize) {
      const bool flushed = co_await flush();
      if (!flushed) co_return Ending{"client closed during authentication"};
    }
    auto frame = co_await upstream_pump_.ReadFrame(protocol::kMaxAuthMessage);
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
        if (scram_terminated_ && *code != protocol::kAuthenticationOk) {
          co_await flush();
          co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
          co_return Ending{"upstream protocol violation: authentication after pgmask's login"};
        }
        wants_response = ExpectsClientResponse(*code);
        binding_removed = false;
        if (*code == 10 && !ChannelBindingCrossesPgmask(client_, upstream_)) {
          auto relayed = protocol::SaslWithoutChannelBinding(body);
          if (!relayed.ok()) {
            co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
            co_return Ending{"upstream protocol violation: authentication"};
          }
          to_client.append(*relayed);
          binding_removed = upstream_.tls();
          break;
        }
        to_client.append(as_text);
        break;
      }
      case MessageType::kBackendKeyData: {
        const auto key = protocol::ParseBackendKeyData(body);
        if (!key.ok() || has_cancel_key_) {
          co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
          co_return Ending{"upstream protocol violation: key data"};
        }
        client_key_ = proxy_.cancel_registry.Register({upstream_.socket().remote_endpoint(), *key});
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
      std::string failed_sqlstate;
      const bool loaded = co_await LoadCatalog(failed_sqlstate);
      if (!loaded) {
        const std::pair<std::string_view, std::string> failure = CatalogReadFailure(failed_sqlstate);
        co_await SendClientError("FATAL", failure.first, failure.second);
        co_return Ending{"catalog could not be read"};
      }
      std::string refusal;
      if (state_.restricted) {
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
      LeaveStartup();
      co_return Ending{};
    }
    if (wants_response) {
      const bool flushed = co_await flush();
      if (!flushed) co_return Ending{"client closed during authentication"};
      Ending failed;
      const size_t answer_size = co_await ReadPasswordMessage(failed);
      if (answer_size == 0) co_return failed;
      if (binding_removed) {
        // A client on TLS that could bind says so ('y'), and PostgreSQL on TLS refuses that as a
        // possible downgrade attack. The flag is covered by the client's proof, so pgmask cannot
        // change it: it says why itself, with PostgreSQL's SQLSTATE for that refusal (08P01, not
        // 28000: the credentials may well be right).
        const auto flag = protocol::SaslInitialChannelBinding(
            client_pump_.Buffered().subspan(protocol::kFrameHeaderSize, answer_size - protocol::kFrameHeaderSize));
        if (flag.ok() && *flag == protocol::Gs2ChannelBinding::kServerLacksIt) {
          co_await SendClientError("FATAL", "08P01", kChannelBindingRefusal);
          co_return Ending{"refused: channel binding cannot cross pgmask"};
        }
      }
      auto [ec, n] = co_await upstream_.Write(asio::buffer(client_pump_.Buffered().data(), answer_size));
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

awaitable<size_t> Session::ReadPasswordMessage(Ending& ending) {
  auto answer = co_await client_pump_.ReadFrame(protocol::kMaxAuthMessage);
  if (!answer.ok && answer.end.end == PumpEnd::kViolation) {
    co_await SendClientError("FATAL", "08P01", answer.end.detail);
    ending.reason = absl::StrFormat("protocol violation: %s", answer.end.detail);
    co_return 0;
  }
  if (!answer.ok) {
    ending.reason = "client closed during authentication";
    co_return 0;
  }
  if (answer.header.type() != MessageType::kPassword) {
    co_await SendClientError("FATAL", "08P01", "expected a password response");
    ending.reason = "protocol violation: expected a password response";
    co_return 0;
  }
  co_return answer.header.frame_size();
}

awaitable<bool> Session::LoadCatalog(std::string& failed_sqlstate) {
  state_.policy_generation = proxy_.policies.generation();
  CatalogRefresh refresh(proxy_.policies.current(), proxy_.catalogs.Get(database_), /*in_transaction=*/false,
                         proxy_.config.catalog_timeout);
  std::string query;
  protocol::MessageWriter w(query);
  w.Begin(protocol::FrontendTag(MessageType::kQuery)).CString(refresh.Query());
  w.End();
  auto [ec, n] = co_await upstream_.Write(asio::buffer(query));
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
      case MessageType::kErrorResponse: {
        const auto error = protocol::ParseErrorNotice(body);
        refresh.Fail(error.ok() ? error->sqlstate() : std::string_view());
        break;
      }
      case MessageType::kReadyForQuery: {
        upstream_pump_.Consume(size);
        failed_sqlstate = refresh.failed_sqlstate();
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
  // Before the sinks: the server side holds audited results only when the session audits.
  if (proxy_.audit != nullptr && state_.policy_enabled()) {
    state_.audit = SessionAudit::Create(*proxy_.audit, client_.get_executor());
  }
  ClientSink client_sink(state_);
  ServerSink server_sink(state_, upstream_pump_);
  state_.release_client = [this] { client_pump_.Release(); };
  state_.release_server = [this] { upstream_pump_.Release(); };
  // Which ended first: the client's pump (0), the server's (1) or the watchdog (2).
  std::variant<PumpResult, PumpResult, Ending> result;
  if (HasTimeLimit(proxy_.config)) {
    result = co_await (client_pump_.Relay(upstream_, client_sink, nullptr) ||
                       upstream_pump_.Relay(client_, server_sink, &client_writer_) || Watchdog());
  } else {
    // Without a limit the watchdog would only wait; an idle session is a few KiB smaller without it.
    auto pumps = co_await (client_pump_.Relay(upstream_, client_sink, nullptr) ||
                           upstream_pump_.Relay(client_, server_sink, &client_writer_));
    if (pumps.index() == 0) {
      result.emplace<0>(std::get<0>(pumps));
    } else {
      result.emplace<1>(std::get<1>(pumps));
    }
  }
  if (result.index() == 2) co_return std::get<2>(std::move(result));
  if (result.index() == 0) {
    const PumpResult r = std::get<0>(result);
    if (!state_.lost_track.empty()) {
      co_await SendLostTrack();
      co_return Ending{absl::StrFormat("lost track of the protocol: %s", state_.lost_track)};
    }
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
          co_await upstream_.Write(asio::buffer(terminate));
        }
        co_return Ending{"client disconnected"};
    }
  }
  const PumpResult r = std::get<1>(result);
  if (!state_.lost_track.empty()) {
    co_await SendLostTrack();
    co_return Ending{absl::StrFormat("lost track of the protocol: %s", state_.lost_track)};
  }
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

awaitable<void> Session::SendLostTrack() {
  Logf(LogLevel::kWarn, "session=%s ended: pgmask lost track of the protocol (%s)", state_.id, state_.lost_track);
  co_await SendClientError("FATAL", "08P01",
                           absl::StrFormat("pgmask: %s; the session is closed rather than relayed unanalysed",
                                           state_.lost_track));
}

awaitable<Session::Ending> Session::Watchdog() {
  const ServeConfig& config = proxy_.config;
  const absl::Duration zero = absl::ZeroDuration();
  absl::Duration step = absl::InfiniteDuration();
  for (const absl::Duration limit : {config.idle_timeout, config.idle_in_transaction_timeout, config.max_session_lifetime}) {
    if (limit > zero) step = std::min(step, limit / 4);
  }
  asio::steady_timer timer(client_.get_executor());
  // Limits are enforced to within a quarter of the shortest, checked at most 20 times a second.
  step = std::clamp(step, absl::Milliseconds(50), absl::Seconds(1));
  uint64_t seen_reads = client_pump_.reads();
  absl::Time quiet_since = absl::Now();
  std::string_view sqlstate;
  std::string_view message;
  std::string_view reason;
  for (;;) {
    timer.expires_after(ToChrono(step));
    auto [ec] = co_await timer.async_wait(kUseTuple);
    if (ec) co_return Ending{"stopped"};
    const absl::Time now = absl::Now();
    if (config.max_session_lifetime > zero && now - started_ >= config.max_session_lifetime) {
      sqlstate = "57P01";
      message = "terminating connection due to maximum session lifetime";
      reason = "session lifetime reached";
      break;
    }
    // Idle: the server answered all it was sent, and the client has sent nothing since.
    const uint64_t reads = client_pump_.reads();
    if (state_.awaiting_ready() || reads != seen_reads) {
      seen_reads = reads;
      quiet_since = now;
      continue;
    }
    const bool in_transaction = state_.transaction_status != 'I';
    const absl::Duration limit = in_transaction ? config.idle_in_transaction_timeout : config.idle_timeout;
    if (limit > zero && now - quiet_since >= limit) {
      // PostgreSQL's own codes and texts for its idle_session_timeout and
      // idle_in_transaction_session_timeout.
      sqlstate = in_transaction ? "25P03" : "57P05";
      message = in_transaction ? "terminating connection due to idle-in-transaction timeout"
                               : "terminating connection due to idle-session timeout";
      reason = in_transaction ? "idle in transaction timeout" : "idle timeout";
      break;
    }
  }
  // A batch being written to a client that does not read would hold the writer forever.
  if (!client_writer_.busy()) co_await SendClientError("FATAL", sqlstate, message);
  co_return Ending{std::string(reason)};
}

void Session::RequestShutdown() {
  state_.shutdown_requested = true;
  if (phase_ == SessionPhase::kReady && state_.idle) upstream_pump_.Wake();
}

void Session::ForceClose() {
  client_.Close();
  upstream_.Close();
}

}  // namespace pgmask::proxy
