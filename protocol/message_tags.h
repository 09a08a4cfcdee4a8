// The one table of PostgreSQL protocol-3.0 message tags, both directions.
// Every other file names messages through MessageType; no bare tag literals elsewhere.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace pgmask::protocol {

enum class Direction : uint8_t { kFrontend, kBackend };

enum class MessageType : uint8_t {
  kUnknown,
  // Frontend only.
  kBind,
  kClose,
  kCopyFail,
  kDescribe,
  kExecute,
  kFlush,
  kFunctionCall,
  kPassword,  // PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse share 'p'.
  kParse,
  kQuery,
  kSync,
  kTerminate,
  // Both directions.
  kCopyData,
  kCopyDone,
  // Backend only.
  kAuthentication,
  kBackendKeyData,
  kBindComplete,
  kCloseComplete,
  kCommandComplete,
  kCopyInResponse,
  kCopyOutResponse,
  kCopyBothResponse,
  kDataRow,
  kEmptyQueryResponse,
  kErrorResponse,
  kFunctionCallResponse,
  kNegotiateProtocolVersion,
  kNoData,
  kNoticeResponse,
  kNotificationResponse,
  kParameterDescription,
  kParameterStatus,
  kParseComplete,
  kPortalSuspended,
  kReadyForQuery,
  kRowDescription,
};

struct MessageInfo {
  char tag;
  Direction direction;
  MessageType type;
  std::string_view name;
  // Body length (the length field, which counts itself) for fixed-size messages; 0 when variable.
  uint32_t fixed_length;
};

inline constexpr std::array kMessageTable = {
    MessageInfo{'B', Direction::kFrontend, MessageType::kBind, "Bind", 0},
    MessageInfo{'C', Direction::kFrontend, MessageType::kClose, "Close", 0},
    MessageInfo{'f', Direction::kFrontend, MessageType::kCopyFail, "CopyFail", 0},
    MessageInfo{'D', Direction::kFrontend, MessageType::kDescribe, "Describe", 0},
    MessageInfo{'E', Direction::kFrontend, MessageType::kExecute, "Execute", 0},
    MessageInfo{'H', Direction::kFrontend, MessageType::kFlush, "Flush", 4},
    MessageInfo{'F', Direction::kFrontend, MessageType::kFunctionCall, "FunctionCall", 0},
    MessageInfo{'p', Direction::kFrontend, MessageType::kPassword, "PasswordMessage", 0},
    MessageInfo{'P', Direction::kFrontend, MessageType::kParse, "Parse", 0},
    MessageInfo{'Q', Direction::kFrontend, MessageType::kQuery, "Query", 0},
    MessageInfo{'S', Direction::kFrontend, MessageType::kSync, "Sync", 4},
    MessageInfo{'X', Direction::kFrontend, MessageType::kTerminate, "Terminate", 4},
    MessageInfo{'d', Direction::kFrontend, MessageType::kCopyData, "CopyData", 0},
    MessageInfo{'c', Direction::kFrontend, MessageType::kCopyDone, "CopyDone", 4},

    MessageInfo{'R', Direction::kBackend, MessageType::kAuthentication, "Authentication", 0},
    MessageInfo{'K', Direction::kBackend, MessageType::kBackendKeyData, "BackendKeyData", 12},
    MessageInfo{'2', Direction::kBackend, MessageType::kBindComplete, "BindComplete", 4},
    MessageInfo{'3', Direction::kBackend, MessageType::kCloseComplete, "CloseComplete", 4},
    MessageInfo{'C', Direction::kBackend, MessageType::kCommandComplete, "CommandComplete", 0},
    MessageInfo{'d', Direction::kBackend, MessageType::kCopyData, "CopyData", 0},
    MessageInfo{'c', Direction::kBackend, MessageType::kCopyDone, "CopyDone", 4},
    MessageInfo{'G', Direction::kBackend, MessageType::kCopyInResponse, "CopyInResponse", 0},
    MessageInfo{'H', Direction::kBackend, MessageType::kCopyOutResponse, "CopyOutResponse", 0},
    MessageInfo{'W', Direction::kBackend, MessageType::kCopyBothResponse, "CopyBothResponse", 0},
    MessageInfo{'D', Direction::kBackend, MessageType::kDataRow, "DataRow", 0},
    MessageInfo{'I', Direction::kBackend, MessageType::kEmptyQueryResponse, "EmptyQueryResponse", 4},
    MessageInfo{'E', Direction::kBackend, MessageType::kErrorResponse, "ErrorResponse", 0},
    MessageInfo{'V', Direction::kBackend, MessageType::kFunctionCallResponse, "FunctionCallResponse", 0},
    MessageInfo{'v', Direction::kBackend, MessageType::kNegotiateProtocolVersion, "NegotiateProtocolVersion", 0},
    MessageInfo{'n', Direction::kBackend, MessageType::kNoData, "NoData", 4},
    MessageInfo{'N', Direction::kBackend, MessageType::kNoticeResponse, "NoticeResponse", 0},
    MessageInfo{'A', Direction::kBackend, MessageType::kNotificationResponse, "NotificationResponse", 0},
    MessageInfo{'t', Direction::kBackend, MessageType::kParameterDescription, "ParameterDescription", 0},
    MessageInfo{'S', Direction::kBackend, MessageType::kParameterStatus, "ParameterStatus", 0},
    MessageInfo{'1', Direction::kBackend, MessageType::kParseComplete, "ParseComplete", 4},
    MessageInfo{'s', Direction::kBackend, MessageType::kPortalSuspended, "PortalSuspended", 4},
    MessageInfo{'Z', Direction::kBackend, MessageType::kReadyForQuery, "ReadyForQuery", 5},
    MessageInfo{'T', Direction::kBackend, MessageType::kRowDescription, "RowDescription", 0},
};

namespace detail {
// Index into kMessageTable by (direction, tag byte); -1 marks an unknown tag.
using TagIndex = std::array<int8_t, 256>;
consteval TagIndex BuildTagIndex(Direction direction) {
  TagIndex index{};
  index.fill(-1);
  for (size_t i = 0; i < kMessageTable.size(); ++i) {
    if (kMessageTable[i].direction == direction) {
      index[static_cast<uint8_t>(kMessageTable[i].tag)] = static_cast<int8_t>(i);
    }
  }
  return index;
}
inline constexpr TagIndex kFrontendIndex = BuildTagIndex(Direction::kFrontend);
inline constexpr TagIndex kBackendIndex = BuildTagIndex(Direction::kBackend);
}  // namespace detail

// The table entry for a tag seen in a direction, or nullptr for an unknown tag.
constexpr const MessageInfo* LookupTag(Direction direction, uint8_t tag) {
  const auto& index = direction == Direction::kFrontend ? detail::kFrontendIndex : detail::kBackendIndex;
  const int8_t i = index[tag];
  return i < 0 ? nullptr : &kMessageTable[static_cast<size_t>(i)];
}

// The tag byte pgmask writes for a message type in a direction. The type must be in the table.
constexpr char TagOf(Direction direction, MessageType type) {
  for (const MessageInfo& info : kMessageTable) {
    if (info.direction == direction && info.type == type) return info.tag;
  }
  return '\0';
}

constexpr char FrontendTag(MessageType type) { return TagOf(Direction::kFrontend, type); }
constexpr char BackendTag(MessageType type) { return TagOf(Direction::kBackend, type); }

std::string_view MessageName(MessageType type);

}  // namespace pgmask::protocol
