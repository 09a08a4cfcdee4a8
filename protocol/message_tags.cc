#include "protocol/message_tags.h"

namespace pgmask::protocol {

std::string_view MessageName(MessageType type) {
  for (const MessageInfo& info : kMessageTable) {
    if (info.type == type) return info.name;
  }
  return "Unknown";
}

}  // namespace pgmask::protocol
