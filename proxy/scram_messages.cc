#include "proxy/scram_messages.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy::scram {

namespace {

using protocol::Gs2ChannelBinding;

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("malformed SCRAM message: %s", what));
}

absl::Status CheckSize(std::string_view message) {
  if (message.empty()) return Malformed("empty");
  if (message.size() > kMaxMessageSize) return Malformed("too long");
  return absl::OkStatus();
}

// Reads the "x=value" attributes of a message in order. Values never hold ',' (RFC 5802
// escapes it in names), so each attribute ends at the next ','.
class Attributes {
 public:
  explicit Attributes(std::string_view text) : text_(text), done_(text.empty()) {}

  bool at_end() const { return done_; }
  size_t position() const { return pos_; }
  // The next attribute's name; '\0' at the end (or after a trailing ',', which no Take accepts).
  char PeekName() const { return done_ || pos_ >= text_.size() ? '\0' : text_[pos_]; }

  // The value of the next attribute if it is `name`.
  std::optional<std::string_view> Take(char name) {
    if (PeekName() != name || pos_ + 1 >= text_.size() || text_[pos_ + 1] != '=') return std::nullopt;
    const size_t start = pos_ + 2;
    const size_t comma = text_.find(',', start);
    done_ = comma == std::string_view::npos;
    const size_t end = done_ ? text_.size() : comma;
    pos_ = done_ ? end : comma + 1;
    return text_.substr(start, end - start);
  }

  // An extension the grammar allows and PostgreSQL ignores: a letter, '=', a value.
  bool SkipExtension() {
    const char name = PeekName();
    const bool letter = (name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z');
    return letter && Take(name).has_value();
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  bool done_;
};

// printable = %x21-2B / %x2D-7E: no ',' (already split off), no space, no control byte.
bool IsNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (const char c : nonce) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

absl::Status SkipExtensions(Attributes& attributes) {
  while (!attributes.at_end()) {
    if (!attributes.SkipExtension()) return Malformed("garbage after the last attribute");
  }
  return absl::OkStatus();
}

// The GS2 header: the channel binding flag, an optional authzid, each followed by ','.
absl::Status ParseGs2Header(std::string_view message, ClientFirst& out) {
  size_t pos = 0;
  if (message.starts_with("n,") || message.starts_with("y,")) {
    out.binding = message[0] == 'n' ? Gs2ChannelBinding::kUnsupported : Gs2ChannelBinding::kServerLacksIt;
    pos = 2;
  } else if (message.starts_with("p=")) {
    const size_t comma = message.find(',', 2);
    if (comma == std::string_view::npos || comma == 2) return Malformed("no channel binding type");
    out.binding = Gs2ChannelBinding::kBound;
    out.binding_type = message.substr(2, comma - 2);
    pos = comma + 1;
  } else {
    return Malformed("unexpected channel binding flag");
  }
  if (message.substr(pos).starts_with("a=")) {
    return absl::InvalidArgumentError("client uses authorization identity, but it is not supported");
  }
  if (pos >= message.size() || message[pos] != ',') return Malformed("no comma after the channel binding flag");
  out.gs2_header = message.substr(0, pos + 1);
  out.bare = message.substr(pos + 1);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClientFirst> ParseClientFirst(std::string_view message) {
  if (absl::Status s = CheckSize(message); !s.ok()) return s;
  ClientFirst out;
  if (absl::Status s = ParseGs2Header(message, out); !s.ok()) return s;
  Attributes attributes(out.bare);
  if (attributes.PeekName() == 'm') return absl::InvalidArgumentError("client requires an unsupported SCRAM extension");
  // The user name is ignored, as PostgreSQL ignores it: the startup packet names the user.
  const auto user = attributes.Take('n');
  const auto nonce = user ? attributes.Take('r') : std::nullopt;
  if (!nonce || !IsNonce(*nonce)) return Malformed("expected n=<user>,r=<nonce>");
  out.nonce = *nonce;
  if (absl::Status s = SkipExtensions(attributes); !s.ok()) return s;
  return out;
}

std::string FormatClientFirst(std::string_view gs2_header, std::string_view nonce) {
  return absl::StrCat(ToAbsl(gs2_header), "n=,r=", ToAbsl(nonce));
}

absl::StatusOr<ServerFirst> ParseServerFirst(std::string_view message) {
  if (absl::Status s = CheckSize(message); !s.ok()) return s;
  Attributes attributes(message);
  if (attributes.PeekName() == 'm') return absl::InvalidArgumentError("server requires an unsupported SCRAM extension");
  const auto nonce = attributes.Take('r');
  const auto salt = nonce ? attributes.Take('s') : std::nullopt;
  const auto iterations = salt ? attributes.Take('i') : std::nullopt;
  if (!iterations || !IsNonce(*nonce)) return Malformed("expected r=<nonce>,s=<salt>,i=<iterations>");
  ServerFirst out;
  out.nonce = *nonce;
  std::optional<std::string> decoded = FromBase64(*salt);
  if (!decoded || decoded->empty()) return Malformed("the salt is not base64");
  out.salt = *std::move(decoded);
  if (!absl::SimpleAtoi(ToAbsl(*iterations), &out.iterations) || out.iterations < 1) {
    return Malformed("the iteration count is not a positive number");
  }
  if (absl::Status s = SkipExtensions(attributes); !s.ok()) return s;
  return out;
}

std::string FormatServerFirst(std::string_view nonce, std::string_view salt, int iterations) {
  return absl::StrCat("r=", ToAbsl(nonce), ",s=", Base64(salt), ",i=", iterations);
}

absl::StatusOr<ClientFinal> ParseClientFinal(std::string_view message) {
  if (absl::Status s = CheckSize(message); !s.ok()) return s;
  Attributes attributes(message);
  const auto binding = attributes.Take('c');
  const auto nonce = binding ? attributes.Take('r') : std::nullopt;
  if (!nonce || !IsNonce(*nonce)) return Malformed("expected c=<channel binding>,r=<nonce>");
  ClientFinal out;
  std::optional<std::string> decoded = FromBase64(*binding);
  if (!decoded) return Malformed("the channel binding is not base64");
  out.channel_binding = *std::move(decoded);
  out.nonce = *nonce;
  while (attributes.PeekName() != 'p') {
    if (!attributes.SkipExtension()) return Malformed("no proof");
  }
  // position() is at the "p=", the ',' before it is not part of the signed text.
  out.without_proof = message.substr(0, attributes.position() - 1);
  const auto proof = attributes.Take('p');
  const std::optional<Key> key = proof ? KeyFromBase64(*proof) : std::nullopt;
  if (!key) return Malformed("the proof is not 32 bytes in base64");
  if (!attributes.at_end()) return Malformed("attributes after the proof");
  out.proof = *key;
  return out;
}

std::string FormatClientFinalWithoutProof(std::string_view channel_binding, std::string_view nonce) {
  return absl::StrCat("c=", Base64(channel_binding), ",r=", ToAbsl(nonce));
}

std::string FormatClientFinal(std::string_view without_proof, const Key& proof) {
  return absl::StrCat(ToAbsl(without_proof), ",p=", Base64(AsText(proof)));
}

absl::StatusOr<Key> ParseServerFinal(std::string_view message) {
  if (absl::Status s = CheckSize(message); !s.ok()) return s;
  Attributes attributes(message);
  if (const auto error = attributes.Take('e')) {
    return absl::PermissionDeniedError(absl::StrFormat("the server ended SCRAM with the error \"%s\"", *error));
  }
  const auto signature = attributes.Take('v');
  const std::optional<Key> key = signature ? KeyFromBase64(*signature) : std::nullopt;
  if (!key) return Malformed("expected v=<32-byte signature in base64>");
  if (absl::Status s = SkipExtensions(attributes); !s.ok()) return s;
  return *key;
}

std::string FormatServerFinal(const Key& signature) { return absl::StrCat("v=", Base64(AsText(signature))); }

std::string AuthMessage(std::string_view client_first_bare, std::string_view server_first,
                        std::string_view client_final_without_proof) {
  return absl::StrCat(ToAbsl(client_first_bare), ",", ToAbsl(server_first), ",", ToAbsl(client_final_without_proof));
}

}  // namespace pgmask::proxy::scram
