// The server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS towards a client, checked against the
// user's stored verifier, with PostgreSQL's rules for channel binding (auth-scram.c): pgmask
// answers a client whose login it terminates exactly as PostgreSQL would, and learns the
// ClientKey, with which it then logs in upstream (scram_client.h). Sans-I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/scram_crypto.h"
#include "proxy/scram_messages.h"
#include "proxy/scram_verifier.h"

namespace pgmask::proxy::scram {

class Server {
 public:
  // `channel_binding`: the tls-server-end-point of the certificate pgmask presented on the
  // client's TLS connection; empty when that connection is plaintext (or the certificate's
  // signature names no hash), and then SCRAM-SHA-256-PLUS is not offered. `nonce`: what pgmask
  // adds to the client's nonce (RandomNonce()).
  Server(Verifier verifier, std::string channel_binding, std::string nonce);

  // What AuthenticationSASL offers, in PostgreSQL's order.
  std::vector<std::string_view> Mechanisms() const;

  // The SASLInitialResponse's mechanism and client-first-message; returns the
  // server-first-message. Errors are protocol violations (InvalidArgument).
  absl::StatusOr<std::string> Start(std::string_view mechanism, std::string_view client_first);

  // The client-final-message; returns the server-final-message. Unauthenticated: the proof does
  // not match the verifier (a wrong password). Other errors are protocol violations.
  absl::StatusOr<std::string> Finish(std::string_view client_final);

  // After Finish succeeded: the client's ClientKey, and whether it bound to the TLS connection.
  const Key& client_key() const { return client_key_; }
  bool bound() const { return bound_; }

 private:
  enum class Step { kStart, kFinish, kDone };

  Verifier verifier_;
  std::string channel_binding_;
  std::string nonce_;  // pgmask's part until Start, then the whole nonce
  Step step_ = Step::kStart;
  bool bound_ = false;
  std::string expected_binding_;  // what the final message's c= must decode to
  std::string client_first_bare_;
  std::string server_first_;
  Key client_key_{};
};

}  // namespace pgmask::proxy::scram
