#include "protocol/sasl_mechanisms.h"

#include "absl/strings/match.h"
#include "protocol/byte_reader.h"
#include "protocol/message_tags.h"
#include "protocol/message_writer.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::protocol {

absl::StatusOr<std::string> SaslWithoutChannelBinding(Bytes body) {
  ByteReader r(body);
  const auto code = r.I32();
  if (!code || *code != 10) return absl::InvalidArgumentError("not an AuthenticationSASL message");
  std::string out;
  MessageWriter w(out);
  w.Begin(BackendTag(MessageType::kAuthentication)).Int32(10);
  for (;;) {
    const auto name = r.CString();
    if (!name) return absl::InvalidArgumentError("AuthenticationSASL: unterminated mechanism list");
    if (name->empty()) break;
    if (absl::EndsWith(ToAbsl(*name), "-PLUS")) continue;
    w.CString(*name);
  }
  if (!r.at_end()) return absl::InvalidArgumentError("AuthenticationSASL: bytes after the mechanism list");
  w.Int8(0);
  w.End();
  return out;
}

absl::StatusOr<Gs2ChannelBinding> SaslInitialChannelBinding(Bytes body) {
  ByteReader r(body);
  const auto mechanism = r.CString();
  const auto length = r.I32();
  if (!mechanism || !length) return absl::InvalidArgumentError("SASLInitialResponse: truncated");
  if (*length < 1 || static_cast<size_t>(*length) != r.remaining()) {
    return absl::InvalidArgumentError("SASLInitialResponse: no initial response, or a wrong length");
  }
  switch (*r.U8()) {
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
