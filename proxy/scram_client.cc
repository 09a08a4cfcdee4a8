#include "proxy/scram_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "protocol/string_view_bridge.h"
#include "proxy/scram_messages.h"

namespace pgmask::proxy::scram {

Client::Client(Verifier verifier, Key client_key, std::string channel_binding, std::string nonce)
    : verifier_(std::move(verifier)),
      client_key_(client_key),
      channel_binding_(std::move(channel_binding)),
      nonce_(std::move(nonce)) {}

absl::StatusOr<Client::InitialResponse> Client::Start(std::span<const std::string_view> offered) {
  if (step_ != Step::kStart) return absl::InvalidArgumentError("unexpected AuthenticationSASL");
  auto offers = [&](std::string_view name) { return std::find(offered.begin(), offered.end(), name) != offered.end(); };
  const bool plus = offers(kMechanismPlus) && !channel_binding_.empty();
  if (!plus && !offers(kMechanism)) {
    return absl::InvalidArgumentError("the upstream server offers no SCRAM-SHA-256 authentication");
  }
  // As libpq: bind when the server offers it; over TLS without the offer say 'y', so that a
  // server that could bind sees the offer was taken away on the way. Without a certificate hash
  // pgmask cannot bind, and says 'n' (a 'y' to a server offering PLUS would be a downgrade).
  bound_ = plus;
  if (plus) {
    gs2_header_ = absl::StrCat("p=", ToAbsl(kChannelBindingType), ",,");
  } else {
    gs2_header_ = channel_binding_.empty() ? "n,," : "y,,";
  }
  std::string message = FormatClientFirst(gs2_header_, nonce_);
  client_first_bare_ = message.substr(gs2_header_.size());
  step_ = Step::kContinue;
  return InitialResponse{plus ? kMechanismPlus : kMechanism, std::move(message)};
}

absl::StatusOr<std::string> Client::Continue(std::string_view server_first) {
  if (step_ != Step::kContinue) return absl::InvalidArgumentError("unexpected AuthenticationSASLContinue");
  step_ = Step::kFinish;
  const absl::StatusOr<ServerFirst> first = ParseServerFirst(server_first);
  if (!first.ok()) return first.status();
  if (first->nonce.size() <= nonce_.size() || !first->nonce.starts_with(nonce_)) {
    return absl::InvalidArgumentError("the server's SCRAM nonce does not extend pgmask's");
  }
  if (first->salt != verifier_.salt || first->iterations != verifier_.iterations) {
    return absl::FailedPreconditionError(
        "the upstream server's SCRAM salt or iteration count differs from the auth file's verifier: the auth file "
        "is out of date (was the password changed?)");
  }
  const std::string binding = absl::StrCat(gs2_header_, bound_ ? channel_binding_ : "");
  const std::string without_proof = FormatClientFinalWithoutProof(binding, first->nonce);
  auth_message_ = AuthMessage(client_first_bare_, server_first, without_proof);
  return FormatClientFinal(without_proof, Xor(client_key_, Hmac(verifier_.stored_key, auth_message_)));
}

absl::Status Client::Finish(std::string_view server_final) {
  if (step_ != Step::kFinish) return absl::InvalidArgumentError("unexpected AuthenticationSASLFinal");
  step_ = Step::kDone;
  const absl::StatusOr<Key> signature = ParseServerFinal(server_final);
  if (!signature.ok()) return signature.status();
  if (!Equal(*signature, Hmac(verifier_.server_key, auth_message_))) {
    return absl::UnauthenticatedError("the upstream server's SCRAM signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace pgmask::proxy::scram
