// Builds the messages pgmask writes itself (errors, keys, single-byte answers) into a caller-owned
// buffer, patching each length field when the message is finished.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/message_tags.h"
#include "protocol/startup_packet.h"

namespace pgmask::protocol {

class MessageWriter {
 public:
  explicit MessageWriter(std::string& out) : out_(out) {}

  // Starts a tagged message.
  MessageWriter& Begin(char tag);
  // Starts an untagged (startup-style) packet.
  MessageWriter& BeginUntagged();
  MessageWriter& Int8(uint8_t v);
  MessageWriter& Int16(int16_t v);
  MessageWriter& Int32(int32_t v);
  MessageWriter& CString(std::string_view s);
  MessageWriter& Raw(std::string_view s);
  // Patches the length of the message started last.
  void End();

 private:
  std::string& out_;
  size_t length_at_ = 0;
};

struct ErrorFields {
  std::string_view severity;  // ERROR, FATAL, NOTICE...
  std::string_view sqlstate;
  std::string_view message;
  std::string_view detail = {};
  std::string_view hint = {};
};

// ErrorResponse to the client.
void WriteErrorResponse(std::string& out, const ErrorFields& fields);
// BackendKeyData to the client.
void WriteBackendKeyData(std::string& out, CancelKey key);
// CancelRequest to an upstream server.
void WriteCancelRequest(std::string& out, CancelKey key);
// Terminate to an upstream server.
void WriteTerminate(std::string& out);
// SSLRequest to an upstream server.
void WriteSslRequest(std::string& out);

}  // namespace pgmask::protocol
