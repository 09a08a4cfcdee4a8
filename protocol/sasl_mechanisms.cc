#include "protocol/sasl_mechanisms.h"

#include <vector>

#include "absl/strings/match.h"
#include "protocol/sasl_messages.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::protocol {

absl::StatusOr<std::string> SaslWithoutChannelBinding(Bytes body) {
  const auto offered = ParseSaslMechanisms(body);
  if (!offered.ok()) return offered.status();
  std::vector<std::string_view> kept;
  for (std::string_view name : *offered) {
    if (!absl::EndsWith(ToAbsl(name), "-PLUS")) kept.push_back(name);
  }
  std::string out;
  WriteAuthenticationSasl(out, kept);
  return out;
}

absl::StatusOr<Gs2ChannelBinding> SaslInitialChannelBinding(Bytes body) {
  const auto initial = ParseSaslInitialResponse(body);
  if (!initial.ok()) return initial.status();
  if (!initial->response || initial->response->empty()) {
    return absl::InvalidArgumentError("SASLInitialResponse: no initial response");
  }
  switch (initial->response->front()) {
    case 'n':
      return Gs2ChannelBinding::kUnsupported;
    case 'y':
      return Gs2ChannelBinding::kServerLacksIt;
    case 'p':
      return Gs2ChannelBinding::kBound;
    default:
      return absl::InvalidArgumentError("SASLInitialResponse: not a GS2 header");
  }
}

}  // namespace pgmask::protocol
