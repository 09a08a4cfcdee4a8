// SCRAM channel binding across pgmask. AuthenticationSASL (code 10) lists the SASL mechanisms the
// server offers; a -PLUS mechanism binds the exchange to the certificate of the client's TLS peer.
// That peer is pgmask, so the binding verifies only when pgmask presents the server's own
// certificate. Otherwise the session relays the list without the -PLUS mechanisms, and reads the
// client's SASLInitialResponse to tell a client that would be refused as a downgrade why.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "protocol/frame_decoder.h"

namespace pgmask::protocol {

// `body`: the body of an AuthenticationSASL message (the code included). Returns the whole
// message ('R' frame) to send instead, naming only mechanisms without channel binding.
absl::StatusOr<std::string> SaslWithoutChannelBinding(Bytes body);

// The first character of the GS2 header that opens a SCRAM client-first-message (RFC 5802).
enum class Gs2ChannelBinding {
  kUnsupported,    // 'n': the client cannot bind
  kServerLacksIt,  // 'y': the client could bind but believes the server cannot
  kBound,          // 'p': the client binds (a -PLUS mechanism)
};

// `body`: the body of a SASLInitialResponse ('p' answering AuthenticationSASL): the mechanism,
// the length of the initial response, the response.
absl::StatusOr<Gs2ChannelBinding> SaslInitialChannelBinding(Bytes body);

}  // namespace pgmask::protocol
