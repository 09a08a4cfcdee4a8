#include "proxy/scram_server.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy::scram {

namespace {

using protocol::Gs2ChannelBinding;

// PostgreSQL's checks, with its messages: the mechanism and the GS2 flag must agree, and a client
// that could bind may not claim the server cannot when it can (a downgrade).
absl::Status CheckChannelBindingChoice(std::string_view mechanism, const ClientFirst& first, bool plus_offered) {
  const bool plus = mechanism == kMechanismPlus;
  switch (first.binding) {
    case Gs2ChannelBinding::kBound:
      if (!plus) {
        return absl::InvalidArgumentError(
            "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel "
            "binding data.");
      }
      if (first.binding_type != kChannelBindingType) {
        return absl::InvalidArgumentError(
            absl::StrFormat("unsupported SCRAM channel-binding type \"%s\"", first.binding_type));
      }
      return absl::OkStatus();
    case Gs2ChannelBinding::kServerLacksIt:
      if (!plus && plus_offered) {
        return absl::InvalidArgumentError(
            "SCRAM channel binding negotiation error: the client supports SCRAM channel binding but thinks the "
            "server does not. However, this server does support channel binding.");
      }
      [[fallthrough]];
    case Gs2ChannelBinding::kUnsupported:
      if (plus) {
        return absl::InvalidArgumentError(
            "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.");
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

Server::Server(Verifier verifier, std::string channel_binding, std::string nonce)
    : verifier_(std::move(verifier)), channel_binding_(std::move(channel_binding)), nonce_(std::move(nonce)) {}

std::vector<std::string_view> Server::Mechanisms() const {
  if (channel_binding_.empty()) return {kMechanism};
  return {kMechanismPlus, kMechanism};
}

absl::StatusOr<std::string> Server::Start(std::string_view mechanism, std::string_view client_first) {
  if (step_ != Step::kStart) return absl::InvalidArgumentError("unexpected SASLInitialResponse");
  const bool offered = mechanism == kMechanism || (mechanism == kMechanismPlus && !channel_binding_.empty());
  if (!offered) return absl::InvalidArgumentError("client selected an invalid SASL authentication mechanism");
  const absl::StatusOr<ClientFirst> first = ParseClientFirst(client_first);
  if (!first.ok()) return first.status();
  if (absl::Status s = CheckChannelBindingChoice(mechanism, *first, !channel_binding_.empty()); !s.ok()) return s;
  bound_ = first->binding == Gs2ChannelBinding::kBound;
  expected_binding_ = absl::StrCat(ToAbsl(first->gs2_header), bound_ ? channel_binding_ : "");
  client_first_bare_ = std::string(first->bare);
  nonce_ = absl::StrCat(ToAbsl(first->nonce), nonce_);
  server_first_ = FormatServerFirst(nonce_, verifier_.salt, verifier_.iterations);
  step_ = Step::kFinish;
  return server_first_;
}

absl::StatusOr<std::string> Server::Finish(std::string_view client_final) {
  if (step_ != Step::kFinish) return absl::InvalidArgumentError("unexpected SASLResponse");
  step_ = Step::kDone;  // one attempt only, whatever its outcome
  const absl::StatusOr<ClientFinal> final_message = ParseClientFinal(client_final);
  if (!final_message.ok()) return final_message.status();
  if (final_message->channel_binding != expected_binding_) {
    return absl::InvalidArgumentError("SCRAM channel binding check failed");
  }
  if (final_message->nonce != nonce_) return absl::InvalidArgumentError("invalid SCRAM response: the nonce does not match");
  const std::string auth_message = AuthMessage(client_first_bare_, server_first_, final_message->without_proof);
  // ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage), and StoredKey = H(ClientKey).
  const Key client_key = Xor(final_message->proof, Hmac(verifier_.stored_key, auth_message));
  if (!Equal(Hash(client_key), verifier_.stored_key)) return absl::UnauthenticatedError("wrong SCRAM proof");
  client_key_ = client_key;
  return FormatServerFinal(Hmac(verifier_.server_key, auth_message));
}

}  // namespace pgmask::proxy::scram
