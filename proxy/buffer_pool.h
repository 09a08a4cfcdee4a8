// Read buffers borrowed per thread only while a session has bytes in flight, so an idle session
// holds no buffer at all (the idle-memory target is a few KiB per client).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace pgmask::proxy {

inline constexpr size_t kPooledChunkSize = 64 * 1024;

// The calling thread's pool of kPooledChunkSize chunks. Sessions never change threads, so a chunk
// is always returned to the pool it came from.
class BufferPool {
 public:
  static BufferPool& ForThisThread();
  uint8_t* Acquire();
  void Release(uint8_t* chunk);
  ~BufferPool();

 private:
  std::vector<uint8_t*> free_;
};

// A byte window [begin, end) over a pooled chunk, or over a heap block when one message is larger
// than a chunk. Storage is given back as soon as the window is empty.
class IoBuffer {
 public:
  IoBuffer() = default;
  IoBuffer(const IoBuffer&) = delete;
  IoBuffer& operator=(const IoBuffer&) = delete;
  ~IoBuffer() { ReleaseStorage(); }

  std::span<uint8_t> Data() { return {data_ + begin_, end_ - begin_}; }
  std::span<const uint8_t> Data() const { return {data_ + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  // Makes room so that `total` bytes fit from the window's start, then returns the free tail.
  std::span<uint8_t> PrepareWrite(size_t total);
  void Commit(size_t n) { end_ += n; }
  void Consume(size_t n);

 private:
  void ReleaseStorage();

  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool pooled_ = false;
};

}  // namespace pgmask::proxy
