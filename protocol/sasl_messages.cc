#include "protocol/sasl_messages.h"

#include "protocol/byte_reader.h"
#include "protocol/message_tags.h"
#include "protocol/message_writer.h"

namespace pgmask::protocol {

namespace {

std::string_view AsText(Bytes bytes) { return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }

}  // namespace

absl::StatusOr<std::vector<std::string_view>> ParseSaslMechanisms(Bytes body) {
  ByteReader r(body);
  const auto code = r.I32();
  if (!code || *code != kAuthenticationSasl) return absl::InvalidArgumentError("not an AuthenticationSASL message");
  std::vector<std::string_view> mechanisms;
  for (;;) {
    const auto name = r.CString();
    if (!name) return absl::InvalidArgumentError("AuthenticationSASL: unterminated mechanism list");
    if (name->empty()) break;
    mechanisms.push_back(*name);
  }
  if (!r.at_end()) return absl::InvalidArgumentError("AuthenticationSASL: bytes after the mechanism list");
  return mechanisms;
}

absl::StatusOr<std::string_view> ParseSaslData(Bytes body, int32_t code) {
  ByteReader r(body);
  const auto actual = r.I32();
  if (!actual || *actual != code) return absl::InvalidArgumentError("not the expected SASL authentication message");
  return AsText(body.subspan(r.position()));
}

absl::StatusOr<SaslInitialResponseView> ParseSaslInitialResponse(Bytes body) {
  ByteReader r(body);
  const auto mechanism = r.CString();
  const auto length = r.I32();
  if (!mechanism || !length) return absl::InvalidArgumentError("SASLInitialResponse: truncated");
  if (*length == -1 && r.at_end()) return SaslInitialResponseView{*mechanism, std::nullopt};
  if (*length < 0 || static_cast<size_t>(*length) != r.remaining()) {
    return absl::InvalidArgumentError("SASLInitialResponse: the response length does not match the message");
  }
  return SaslInitialResponseView{*mechanism, AsText(body.subspan(r.position()))};
}

void WriteAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms) {
  MessageWriter w(out);
  w.Begin(BackendTag(MessageType::kAuthentication)).Int32(kAuthenticationSasl);
  for (std::string_view name : mechanisms) w.CString(name);
  w.Int8(0);
  w.End();
}

void WriteAuthenticationSaslData(std::string& out, int32_t code, std::string_view data) {
  MessageWriter w(out);
  w.Begin(BackendTag(MessageType::kAuthentication)).Int32(code).Raw(data);
  w.End();
}

void WriteSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view response) {
  MessageWriter w(out);
  w.Begin(FrontendTag(MessageType::kPassword))
      .CString(mechanism)
      .Int32(static_cast<int32_t>(response.size()))
      .Raw(response);
  w.End();
}

void WriteSaslResponse(std::string& out, std::string_view data) {
  MessageWriter w(out);
  w.Begin(FrontendTag(MessageType::kPassword)).Raw(data);
  w.End();
}

}  // namespace pgmask::protocol
