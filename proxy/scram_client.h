// The client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS towards the upstream server, for a
// login pgmask terminated: it proves knowledge of the password with the ClientKey recovered from
// the client's own proof (scram_server.h), binds to the upstream TLS connection when the server
// offers it, and checks the server's signature with the verifier's ServerKey. Sans-I/O.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/scram_crypto.h"
#include "proxy/scram_verifier.h"

namespace pgmask::proxy::scram {

class Client {
 public:
  // `verifier`: the user's; the server's salt and iteration count must be its own, since the
  // ClientKey is derived from them. `channel_binding`: the tls-server-end-point of the upstream
  // server's certificate, empty when the upstream connection is plaintext. `nonce`: RandomNonce().
  Client(Verifier verifier, Key client_key, std::string channel_binding, std::string nonce);

  struct InitialResponse {
    std::string_view mechanism;
    std::string message;  // client-first-message
  };
  // The mechanisms AuthenticationSASL offers; returns the SASLInitialResponse to send.
  absl::StatusOr<InitialResponse> Start(std::span<const std::string_view> offered);

  // The server-first-message (AuthenticationSASLContinue); returns the client-final-message.
  // FailedPrecondition: the server's salt or iteration count is not the verifier's (the auth file
  // is out of date). Other errors: the server broke the protocol.
  absl::StatusOr<std::string> Continue(std::string_view server_first);

  // The server-final-message (AuthenticationSASLFinal). Unauthenticated: the signature does not
  // verify, so the server does not know the verifier.
  absl::Status Finish(std::string_view server_final);

  bool started() const { return step_ != Step::kStart; }
  bool finished() const { return step_ == Step::kDone; }
  bool bound() const { return bound_; }

 private:
  enum class Step { kStart, kContinue, kFinish, kDone };

  Verifier verifier_;
  Key client_key_;
  std::string channel_binding_;
  std::string nonce_;
  Step step_ = Step::kStart;
  bool bound_ = false;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string auth_message_;
};

}  // namespace pgmask::proxy::scram
