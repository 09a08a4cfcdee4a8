#include "protocol/message_writer.h"

#include "protocol/byte_order.h"

namespace pgmask::protocol {

MessageWriter& MessageWriter::Begin(char tag) {
  out_.push_back(tag);
  return BeginUntagged();
}

MessageWriter& MessageWriter::BeginUntagged() {
  length_at_ = out_.size();
  out_.append(4, '\0');
  return *this;
}

MessageWriter& MessageWriter::Int8(uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}

MessageWriter& MessageWriter::Int16(int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  out_.push_back(static_cast<char>(u >> 8));
  out_.push_back(static_cast<char>(u & 0xff));
  return *this;
}

MessageWriter& MessageWriter::Int32(int32_t v) {
  uint8_t b[4];
  StoreU32(b, static_cast<uint32_t>(v));
  out_.append(reinterpret_cast<const char*>(b), 4);
  return *this;
}

MessageWriter& MessageWriter::CString(std::string_view s) {
  // A NUL inside would end the string early on the peer's side; cut it there ourselves.
  out_.append(s.substr(0, s.find('\0')));
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::Raw(std::string_view s) {
  out_.append(s);
  return *this;
}

void MessageWriter::End() {
  StoreU32(reinterpret_cast<uint8_t*>(out_.data() + length_at_),
           static_cast<uint32_t>(out_.size() - length_at_));
}

void WriteErrorResponse(std::string& out, const ErrorFields& f) {
  MessageWriter w(out);
  w.Begin(BackendTag(MessageType::kErrorResponse));
  w.Int8('S').CString(f.severity);
  w.Int8('V').CString(f.severity);
  w.Int8('C').CString(f.sqlstate);
  w.Int8('M').CString(f.message);
  if (!f.detail.empty()) w.Int8('D').CString(f.detail);
  if (!f.hint.empty()) w.Int8('H').CString(f.hint);
  w.Int8(0);
  w.End();
}

void WriteBackendKeyData(std::string& out, CancelKey key) {
  MessageWriter w(out);
  w.Begin(BackendTag(MessageType::kBackendKeyData))
      .Int32(static_cast<int32_t>(key.process_id))
      .Int32(static_cast<int32_t>(key.secret));
  w.End();
}

void WriteCancelRequest(std::string& out, CancelKey key) {
  MessageWriter w(out);
  w.BeginUntagged()
      .Int32(static_cast<int32_t>(kCancelRequestCode))
      .Int32(static_cast<int32_t>(key.process_id))
      .Int32(static_cast<int32_t>(key.secret));
  w.End();
}

void WriteSslRequest(std::string& out) {
  MessageWriter w(out);
  w.BeginUntagged().Int32(static_cast<int32_t>(kSslRequestCode));
  w.End();
}

void WriteTerminate(std::string& out) {
  MessageWriter w(out);
  w.Begin(FrontendTag(MessageType::kTerminate));
  w.End();
}

}  // namespace pgmask::protocol
