// One client connection: the startup handshake (startup packet, upstream connect, authentication
// relayed unchanged or, for users of the auth file, SCRAM terminated on both hops; cancel keys
// swapped), then two pumps, client->server and server->client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "protocol/message_writer.h"
#include "protocol/startup_packet.h"
#include "proxy/asio.h"
#include "proxy/frame_pump.h"
#include "proxy/proxy_state.h"
#include "proxy/scram_client.h"
#include "proxy/scram_server.h"
#include "proxy/scram_verifier.h"
#include "proxy/session_state.h"
#include "proxy/stream.h"
#include "proxy/writer_lock.h"

namespace pgmask::proxy {

class SessionList;

// Phases of a session, in order.
enum class SessionPhase { kStartup, kAuthenticating, kReady, kClosing };

class Session {
 public:
  Session(ProxyState& state, SessionList& list, tcp::socket client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  awaitable<void> Run();

  // Asks the session to end at its next idle point (between transactions). Session's thread only.
  void RequestShutdown();
  // Ends the session now. Session's thread only.
  void ForceClose();

 private:
  struct Ending {
    std::string reason;
  };

  awaitable<Ending> Handshake();
  awaitable<Ending> HandshakeWithDeadline();
  awaitable<bool> ReadStartupPacket(protocol::StartupPacket& packet, std::string& raw, Ending& ending);
  // TLS towards the client: a handshake that starts without SSLRequest (PostgreSQL 17's direct
  // TLS, recognised by the first byte of a ClientHello), and the answer to an SSLRequest.
  awaitable<bool> AcceptDirectTls(Ending& ending);
  awaitable<bool> AcceptTls(Ending& ending);
  awaitable<bool> StartUpstreamTls(Ending& ending);
  // Ends the session when a limit of idleness or lifetime is reached; runs beside the pumps when
  // one is configured.
  awaitable<Ending> Watchdog();
  // Tells the client why a restricted session ends after pgmask lost track of the protocol.
  awaitable<void> SendLostTrack();
  // Starts the upstream's work counters and leaves the starting count (max_startup_conn).
  void LeaveStartup();
  // Gives back the session's place under max_client_conn and the per-role and per-database
  // limits: before the close is logged, so that a client that saw it can take the place.
  void ReleaseAdmission();
  awaitable<Ending> RelayCancel(const protocol::CancelKey& key);
  awaitable<bool> ConnectUpstream(Ending& ending);
  awaitable<Ending> RelayAuthentication();
  // Reads the client's next message during authentication, which must be a password message
  // ('p'), and leaves it buffered; returns its size, or 0 after telling the client why not.
  awaitable<size_t> ReadPasswordMessage(Ending& ending);

  // SCRAM terminated by pgmask for users of the auth file (session_scram.cc), so that each hop
  // binds to its own TLS connection: the client's login is checked against the user's verifier,
  // then pgmask logs in upstream with the ClientKey the client's proof reveals, then
  // RelayAuthentication relays AuthenticationOk and the rest.
  std::optional<scram::Verifier> AuthFileVerifier() const;
  awaitable<Ending> TerminateScram(const scram::Verifier& verifier);
  // Runs `server` with the client up to the checked proof; returns the server-final-message.
  awaitable<std::optional<std::string>> AuthenticateClient(scram::Server& server, Ending& ending);
  // Runs `scram` with the upstream. True when the upstream's next message is AuthenticationOk;
  // false when it is something else to relay (an ErrorResponse) or, with `ending` set, when the
  // login failed.
  awaitable<bool> LoginUpstream(scram::Client& scram, Ending& ending);
  // Sends `request` to the client and returns the body of its password message.
  awaitable<std::optional<std::string>> AskClient(const std::string& request, Ending& ending);
  // Tell the client why the SCRAM exchange with it, or pgmask's with the upstream, failed.
  awaitable<void> RefuseClientScram(const absl::Status& status, Ending& ending);
  awaitable<void> RefuseUpstreamScram(const absl::Status& status, Ending& ending);
  // Reads the session catalog before the client sees its first ReadyForQuery; on failure sets
  // `failed_sqlstate` to the server's SQLSTATE, if the server answered one.
  awaitable<bool> LoadCatalog(std::string& failed_sqlstate);
  awaitable<Ending> RelayTraffic();

  // Writes a message pgmask made to the client, as a whole, between the pump's batches.
  awaitable<bool> WriteToClient(std::string_view bytes);
  awaitable<void> SendClientError(std::string_view severity, std::string_view sqlstate, std::string_view message);
  bool CanWriteToClient() const;

  ProxyState& proxy_;
  SessionList& list_;
  SessionState state_;
  Stream client_;
  Stream upstream_;
  FramePump client_pump_;    // reads the client
  FramePump upstream_pump_;  // reads the server
  WriterLock client_writer_;
  std::string user_;
  std::string database_;
  std::string replication_;  // the startup parameter, empty when absent
  // Why the startup parameters may not be used by a restricted role, or empty.
  std::string startup_setting_refusal_;
  std::string peer_;
  SessionPhase phase_ = SessionPhase::kStartup;
  protocol::CancelKey client_key_{};
  bool has_cancel_key_ = false;
  bool scram_terminated_ = false;  // pgmask ran the login on both hops: the upstream may only say Ok
  bool admitted_ = false;
  bool limits_admitted_ = false;  // counted in ConnectionLimits
  bool starting_ = true;          // counted in starting_connections
  int starting_rank_ = 0;         // starting connections when this one was accepted, itself included
  absl::Time started_;
};

}  // namespace pgmask::proxy
