#include "proxy/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>

namespace pgmask::proxy {
namespace {

TEST(IoBuffer, HoldsNoStorageWhenEmpty) {
  IoBuffer b;
  EXPECT_TRUE(b.empty());
  auto space = b.PrepareWrite(10);
  ASSERT_GE(space.size(), 10u);
  std::memcpy(space.data(), "0123456789", 10);
  b.Commit(10);
  b.Consume(4);
  EXPECT_EQ(b.size(), 6u);
  EXPECT_EQ(std::memcmp(b.Data().data(), "456789", 6), 0);
  b.Consume(6);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.Data().data(), nullptr);  // storage went back to the pool
}

TEST(IoBuffer, GrowsForOneLargeMessageKeepingBytes) {
  IoBuffer b;
  auto space = b.PrepareWrite(8);
  std::memcpy(space.data(), "abcdefgh", 8);
  b.Commit(8);
  const size_t big = kPooledChunkSize * 3;
  space = b.PrepareWrite(big);
  EXPECT_GE(space.size() + b.size(), big);
  EXPECT_EQ(std::memcmp(b.Data().data(), "abcdefgh", 8), 0);
}

TEST(IoBuffer, CompactsWhenTheTailIsShort) {
  IoBuffer b;
  auto space = b.PrepareWrite(1);
  const size_t n = space.size();
  std::memset(space.data(), 'x', n);
  b.Commit(n);
  b.Consume(n - 3);  // three bytes left at the very end
  space = b.PrepareWrite(4);
  EXPECT_GE(space.size(), kPooledChunkSize - 3);
  EXPECT_EQ(b.size(), 3u);
}

TEST(BufferPool, ReusesChunks) {
  BufferPool& pool = BufferPool::ForThisThread();
  uint8_t* a = pool.Acquire();
  pool.Release(a);
  EXPECT_EQ(pool.Acquire(), a);
  pool.Release(a);
}

}  // namespace
}  // namespace pgmask::proxy
