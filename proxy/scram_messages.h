// The four messages of a SCRAM exchange (RFC 5802 section 7) as PostgreSQL speaks them: parsed
// from what a peer sent, and formatted for what pgmask sends. Parsers refuse anything outside
// the grammar and anything over kMaxMessageSize; the views they return point into the message.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "protocol/sasl_mechanisms.h"
#include "proxy/scram_crypto.h"

namespace pgmask::proxy::scram {

// Far more than any SCRAM message needs (libpq's are under 200 bytes); a peer cannot make pgmask
// scan more.
inline constexpr size_t kMaxMessageSize = 8192;

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kMechanismPlus = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kChannelBindingType = "tls-server-end-point";

// client-first-message = gs2-header client-first-message-bare
struct ClientFirst {
  protocol::Gs2ChannelBinding binding = protocol::Gs2ChannelBinding::kUnsupported;
  std::string_view binding_type;  // after "p=": the channel binding the client asks for
  std::string_view gs2_header;    // "n,," "y,," or "p=<type>,,": what the final message's c= repeats
  std::string_view bare;          // part of the AuthMessage
  std::string_view nonce;
};
absl::StatusOr<ClientFirst> ParseClientFirst(std::string_view message);
// The user name is left empty, as libpq sends it: PostgreSQL takes the startup packet's.
std::string FormatClientFirst(std::string_view gs2_header, std::string_view nonce);

// server-first-message = nonce "," salt "," iteration-count
struct ServerFirst {
  std::string_view nonce;
  std::string salt;  // decoded
  int iterations = 0;
};
absl::StatusOr<ServerFirst> ParseServerFirst(std::string_view message);
std::string FormatServerFirst(std::string_view nonce, std::string_view salt, int iterations);

// client-final-message = channel-binding "," nonce ["," extensions] "," proof
struct ClientFinal {
  std::string channel_binding;     // c= decoded: the GS2 header, then the binding data if any
  std::string_view nonce;
  std::string_view without_proof;  // part of the AuthMessage
  Key proof{};
};
absl::StatusOr<ClientFinal> ParseClientFinal(std::string_view message);
// `channel_binding`: the GS2 header and binding data, encoded into c= here.
std::string FormatClientFinalWithoutProof(std::string_view channel_binding, std::string_view nonce);
std::string FormatClientFinal(std::string_view without_proof, const Key& proof);

// server-final-message = "v=" signature, or "e=" error. An error is returned as a status.
absl::StatusOr<Key> ParseServerFinal(std::string_view message);
std::string FormatServerFinal(const Key& signature);

// What both proofs and signatures sign.
std::string AuthMessage(std::string_view client_first_bare, std::string_view server_first,
                        std::string_view client_final_without_proof);

}  // namespace pgmask::proxy::scram
