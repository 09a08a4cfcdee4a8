#include "protocol/message_tags.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace pgmask::protocol {
namespace {

TEST(MessageTags, EveryTagIsUniquePerDirection) {
  std::set<std::pair<Direction, char>> seen;
  for (const MessageInfo& info : kMessageTable) {
    EXPECT_TRUE(seen.insert({info.direction, info.tag}).second) << info.name;
  }
}

TEST(MessageTags, LookupFindsTheEntryForItsDirection) {
  for (const MessageInfo& info : kMessageTable) {
    const MessageInfo* found = LookupTag(info.direction, static_cast<uint8_t>(info.tag));
    ASSERT_NE(found, nullptr) << info.name;
    EXPECT_EQ(found->type, info.type) << info.name;
    EXPECT_EQ(TagOf(info.direction, info.type), info.tag) << info.name;
  }
}

TEST(MessageTags, SameLetterMeansDifferentMessagesPerDirection) {
  EXPECT_EQ(LookupTag(Direction::kFrontend, 'D')->type, MessageType::kDescribe);
  EXPECT_EQ(LookupTag(Direction::kBackend, 'D')->type, MessageType::kDataRow);
  EXPECT_EQ(LookupTag(Direction::kFrontend, 'C')->type, MessageType::kClose);
  EXPECT_EQ(LookupTag(Direction::kBackend, 'C')->type, MessageType::kCommandComplete);
}

TEST(MessageTags, UnknownTagsAreNull) {
  EXPECT_EQ(LookupTag(Direction::kFrontend, 0), nullptr);
  EXPECT_EQ(LookupTag(Direction::kFrontend, 'T'), nullptr);  // RowDescription is backend-only
  EXPECT_EQ(LookupTag(Direction::kBackend, 'Q'), nullptr);   // Query is frontend-only
  EXPECT_EQ(LookupTag(Direction::kBackend, 0xff), nullptr);
}

TEST(MessageTags, CoversTheWholeProtocol) {
  int frontend = 0;
  int backend = 0;
  for (const MessageInfo& info : kMessageTable) (info.direction == Direction::kFrontend ? frontend : backend)++;
  EXPECT_EQ(frontend, 14);
  EXPECT_EQ(backend, 24);
  EXPECT_EQ(MessageName(MessageType::kRowDescription), "RowDescription");
}

}  // namespace
}  // namespace pgmask::protocol
