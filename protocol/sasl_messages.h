// The SASL messages of PostgreSQL's authentication exchange, sans-I/O: AuthenticationSASL (the
// mechanism list), AuthenticationSASLContinue and AuthenticationSASLFinal from the server,
// SASLInitialResponse and SASLResponse from the client. pgmask reads and writes them when it
// relays a login and when it runs SCRAM itself on either hop (proxy/scram_*.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/frame_decoder.h"

namespace pgmask::protocol {

// PostgreSQL's own cap on one authentication message (PG_MAX_AUTH_TOKEN_LENGTH); larger ones are
// refused before they are buffered.
inline constexpr uint32_t kMaxAuthMessage = 65535;

// Authentication request codes of the SASL exchange.
inline constexpr int32_t kAuthenticationSasl = 10;
inline constexpr int32_t kAuthenticationSaslContinue = 11;
inline constexpr int32_t kAuthenticationSaslFinal = 12;

// `body`: an AuthenticationSASL body, the code included. The mechanisms, in the server's order.
absl::StatusOr<std::vector<std::string_view>> ParseSaslMechanisms(Bytes body);

// `body`: an AuthenticationSASLContinue or AuthenticationSASLFinal body whose code must be
// `code`. The SASL data that follows the code.
absl::StatusOr<std::string_view> ParseSaslData(Bytes body, int32_t code);

struct SaslInitialResponseView {
  std::string_view mechanism;
  std::optional<std::string_view> response;  // nullopt: length -1, no initial response
};
// `body`: the body of a SASLInitialResponse ('p' answering AuthenticationSASL).
absl::StatusOr<SaslInitialResponseView> ParseSaslInitialResponse(Bytes body);

// Whole messages ('R' or 'p' frames), appended to `out`.
void WriteAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms);
void WriteAuthenticationSaslData(std::string& out, int32_t code, std::string_view data);
void WriteSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view response);
void WriteSaslResponse(std::string& out, std::string_view data);

}  // namespace pgmask::protocol
