// SCRAM terminated by pgmask for the users of its auth file. A relayed SCRAM login can bind only
// to one TLS connection, and pgmask splits it in two; so pgmask checks the client's proof itself
// against the user's verifier, binding to the certificate it presents, and logs in upstream with
// the ClientKey that proof reveals, binding to the server's certificate (as PgBouncer does).
#include "proxy/session.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "protocol/messages.h"
#include "protocol/sasl_messages.h"
#include "protocol/string_view_bridge.h"
#include "proxy/auth_file.h"
#include "proxy/log.h"

namespace pgmask::proxy {

using protocol::MessageType;

namespace {

std::string_view MechanismName(bool bound) { return bound ? scram::kMechanismPlus : scram::kMechanism; }

// What the upstream's SASL message asks pgmask to send back: a SASLInitialResponse or a
// SASLResponse, or nothing after AuthenticationSASLFinal.
absl::StatusOr<std::string> UpstreamSaslAnswer(scram::Client& scram, int32_t code, protocol::Bytes body) {
  std::string answer;
  if (code == protocol::kAuthenticationSasl) {
    const auto offered = protocol::ParseSaslMechanisms(body);
    if (!offered.ok()) return offered.status();
    const auto initial = scram.Start(*offered);
    if (!initial.ok()) return initial.status();
    protocol::WriteSaslInitialResponse(answer, initial->mechanism, initial->message);
    return answer;
  }
  const auto data = protocol::ParseSaslData(body, code);
  if (!data.ok()) return data.status();
  if (code == protocol::kAuthenticationSaslFinal) {
    if (absl::Status s = scram.Finish(*data); !s.ok()) return s;
    return answer;
  }
  const auto final_message = scram.Continue(*data);
  if (!final_message.ok()) return final_message.status();
  protocol::WriteSaslResponse(answer, *final_message);
  return answer;
}

bool IsSaslRequest(int32_t code) {
  return code == protocol::kAuthenticationSasl || code == protocol::kAuthenticationSaslContinue ||
         code == protocol::kAuthenticationSaslFinal;
}

// Cleartext (3) and md5 (5) need the password itself, which pgmask never has; nor can it answer
// GSSAPI or SSPI on the client's behalf.
std::string UnanswerableRequest(std::string_view user, int32_t code) {
  std::string asked = absl::StrFormat("authentication method %d", code);
  if (code == 3) asked = "a cleartext password";
  if (code == 5) asked = "an md5 password";
  return absl::StrFormat(
      "pgmask checks the password of user \"%s\" itself (auth file), and cannot answer the upstream server's "
      "request for %s: give this user scram-sha-256 in the server's pg_hba.conf, or remove it from pgmask's auth file",
      user, asked);
}

}  // namespace

std::optional<scram::Verifier> Session::AuthFileVerifier() const {
  const std::shared_ptr<const AuthFile> file = proxy_.auth_file.current();
  if (file == nullptr) return std::nullopt;
  return file->Find(user_);
}

// Every message and reason below is a literal or a named local: GCC 12 mishandles temporaries
// that must live across a co_await.
awaitable<void> Session::RefuseClientScram(const absl::Status& status, Ending& ending) {
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    // PostgreSQL's own answer to a wrong password, word for word.
    const std::string message = absl::StrFormat("password authentication failed for user \"%s\"", user_);
    ending.reason = "refused: authentication failed: wrong password";
    co_await SendClientError("FATAL", "28P01", message);
    co_return;
  }
  const std::string_view why = ToStd(status.message());
  ending.reason = absl::StrFormat("protocol violation: SCRAM: %s", why);
  co_await SendClientError("FATAL", "08P01", why);
}

awaitable<void> Session::RefuseUpstreamScram(const absl::Status& status, Ending& ending) {
  const std::string_view why = ToStd(status.message());
  Logf(LogLevel::kWarn, "session=%s upstream SCRAM login failed: %s", state_.id, why);
  // The server's salt or iteration count is not the file's: the client's password was right by
  // the file, the file is what must change.
  const bool stale = status.code() == absl::StatusCode::kFailedPrecondition;
  ending.reason = stale ? std::string("refused: authentication failed: auth file out of date")
                        : absl::StrFormat("upstream protocol violation: SCRAM: %s", why);
  const std::string message = absl::StrFormat("pgmask could not log in to the upstream server as \"%s\": %s", user_, why);
  co_await SendClientError("FATAL", stale ? "28000" : "08P01", message);
}

awaitable<Session::Ending> Session::TerminateScram(const scram::Verifier& verifier) {
  Ending ending;
  const absl::StatusOr<std::string> server_nonce = scram::RandomNonce();
  const absl::StatusOr<std::string> client_nonce = scram::RandomNonce();
  if (!server_nonce.ok() || !client_nonce.ok()) {
    ending.reason = "internal error: no SCRAM nonce";
    co_await SendClientError("FATAL", "XX000", "pgmask could not generate a SCRAM nonce");
    co_return ending;
  }
  scram::Server server(verifier, client_.tls_server_end_point(), *server_nonce);
  const std::optional<std::string> server_final = co_await AuthenticateClient(server, ending);
  if (!server_final) co_return ending;
  Logf(LogLevel::kInfo, "session=%s password checked by pgmask (auth file) with %s", state_.id,
       MechanismName(server.bound()));
  scram::Client upstream_login(verifier, server.client_key(), upstream_.tls_server_end_point(), *client_nonce);
  const bool logged_in = co_await LoginUpstream(upstream_login, ending);
  if (!ending.reason.empty()) co_return ending;
  // The client learns that its login succeeded once the server's has: a refusal upstream reaches
  // it as the server's own ErrorResponse, relayed below.
  if (logged_in) {
    std::string message;
    protocol::WriteAuthenticationSaslData(message, protocol::kAuthenticationSaslFinal, *server_final);
    const bool sent = co_await WriteToClient(message);
    if (!sent) co_return Ending{"client closed during authentication"};
  }
  scram_terminated_ = true;
  ending = co_await RelayAuthentication();
  co_return ending;
}

awaitable<std::optional<std::string>> Session::AskClient(const std::string& request, Ending& ending) {
  const bool sent = co_await WriteToClient(request);
  if (!sent) {
    ending.reason = "client closed during authentication";
    co_return std::nullopt;
  }
  const size_t size = co_await ReadPasswordMessage(ending);
  if (size == 0) co_return std::nullopt;
  const protocol::Bytes body = client_pump_.Buffered().subspan(protocol::kFrameHeaderSize, size - protocol::kFrameHeaderSize);
  std::string copy(reinterpret_cast<const char*>(body.data()), body.size());
  client_pump_.Consume(size);
  co_return copy;
}

awaitable<std::optional<std::string>> Session::AuthenticateClient(scram::Server& server, Ending& ending) {
  std::string request;
  protocol::WriteAuthenticationSasl(request, server.Mechanisms());
  const std::optional<std::string> initial = co_await AskClient(request, ending);
  if (!initial) co_return std::nullopt;
  const auto parsed = protocol::ParseSaslInitialResponse(
      protocol::Bytes(reinterpret_cast<const uint8_t*>(initial->data()), initial->size()));
  absl::StatusOr<std::string> server_first = absl::InvalidArgumentError("malformed SASLInitialResponse");
  if (parsed.ok() && parsed->response) server_first = server.Start(parsed->mechanism, *parsed->response);
  if (!server_first.ok()) {
    co_await RefuseClientScram(server_first.status(), ending);
    co_return std::nullopt;
  }
  request.clear();
  protocol::WriteAuthenticationSaslData(request, protocol::kAuthenticationSaslContinue, *server_first);
  const std::optional<std::string> response = co_await AskClient(request, ending);
  if (!response) co_return std::nullopt;
  absl::StatusOr<std::string> server_final = server.Finish(*response);
  if (!server_final.ok()) {
    co_await RefuseClientScram(server_final.status(), ending);
    co_return std::nullopt;
  }
  co_return *std::move(server_final);
}

awaitable<bool> Session::LoginUpstream(scram::Client& scram, Ending& ending) {
  for (;;) {
    const auto frame = co_await upstream_pump_.ReadFrame(protocol::kMaxAuthMessage);
    if (!frame.ok && frame.end.end == PumpEnd::kViolation) {
      ending.reason = absl::StrFormat("upstream protocol violation: %s", frame.end.detail);
      co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
      co_return false;
    }
    if (!frame.ok) {
      ending.reason = "upstream closed during authentication";
      co_await SendClientError("FATAL", "08006", "the upstream server closed the connection");
      co_return false;
    }
    const size_t size = frame.header.frame_size();
    const MessageType type = frame.header.type();
    if (type == MessageType::kNoticeResponse || type == MessageType::kNegotiateProtocolVersion) {
      // Meant for the client during its login, which pgmask's exchange has not ended yet.
      const std::string message(reinterpret_cast<const char*>(upstream_pump_.Buffered().data()), size);
      upstream_pump_.Consume(size);
      const bool relayed = co_await WriteToClient(message);
      if (!relayed) {
        ending.reason = "client closed during authentication";
        co_return false;
      }
      continue;
    }
    // An ErrorResponse (or anything else) is relayed as PostgreSQL sent it.
    if (type != MessageType::kAuthentication) co_return false;
    const protocol::Bytes body = upstream_pump_.Buffered().subspan(protocol::kFrameHeaderSize, size - protocol::kFrameHeaderSize);
    const auto code = protocol::ParseAuthenticationCode(body);
    if (code.ok() && *code == protocol::kAuthenticationOk) {
      // Trust needs no exchange; a SCRAM exchange cut short leaves the server unproven.
      const bool cut_short = scram.started() && !scram.finished();
      if (!cut_short) co_return true;
      ending.reason = "upstream protocol violation: AuthenticationOk before SCRAM ended";
      co_await SendClientError("FATAL", "08P01", "the upstream server sent an invalid message");
      co_return false;
    }
    if (code.ok() && !IsSaslRequest(*code)) {
      const std::string message = UnanswerableRequest(user_, *code);
      ending.reason = absl::StrFormat("refused: authentication failed: upstream asks for method %d", *code);
      co_await SendClientError("FATAL", "28000", message);
      co_return false;
    }
    const absl::StatusOr<std::string> answer = code.ok() ? UpstreamSaslAnswer(scram, *code, body) : code.status();
    if (!answer.ok()) {
      co_await RefuseUpstreamScram(answer.status(), ending);
      co_return false;
    }
    if (*code == protocol::kAuthenticationSasl) {
      Logf(LogLevel::kInfo, "session=%s upstream login with %s", state_.id, MechanismName(scram.bound()));
    }
    upstream_pump_.Consume(size);
    if (answer->empty()) continue;
    auto [ec, n] = co_await upstream_.Write(asio::buffer(*answer));
    if (ec) {
      ending.reason = "upstream write failed";
      co_await SendClientError("FATAL", "08006", "lost the connection to the upstream server");
      co_return false;
    }
  }
}

}  // namespace pgmask::proxy
