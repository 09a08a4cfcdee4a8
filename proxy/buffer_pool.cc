#include "proxy/buffer_pool.h"

#include <algorithm>
#include <cstring>

namespace pgmask::proxy {
namespace {
// Enough for every session of a thread that is busy at one moment; beyond it chunks are freed.
constexpr size_t kMaxPooledChunks = 256;
// Below this much free tail, compact before reading so reads stay large.
constexpr size_t kMinReadSpace = 4096;
}  // namespace

BufferPool& BufferPool::ForThisThread() {
  thread_local BufferPool pool;
  return pool;
}

uint8_t* BufferPool::Acquire() {
  if (free_.empty()) return new uint8_t[kPooledChunkSize];
  uint8_t* chunk = free_.back();
  free_.pop_back();
  return chunk;
}

void BufferPool::Release(uint8_t* chunk) {
  if (free_.size() >= kMaxPooledChunks) {
    delete[] chunk;
    return;
  }
  free_.push_back(chunk);
}

BufferPool::~BufferPool() {
  for (uint8_t* chunk : free_) delete[] chunk;
}

std::span<uint8_t> IoBuffer::PrepareWrite(size_t total) {
  const size_t held = size();
  if (data_ == nullptr) {
    if (total <= kPooledChunkSize) {
      data_ = BufferPool::ForThisThread().Acquire();
      capacity_ = kPooledChunkSize;
      pooled_ = true;
    } else {
      data_ = new uint8_t[total];
      capacity_ = total;
      pooled_ = false;
    }
    return {data_, capacity_};
  }
  if (total > capacity_) {
    // One message larger than what we hold: move to a block of exactly its size.
    auto* bigger = new uint8_t[total];
    std::memcpy(bigger, data_ + begin_, held);
    ReleaseStorage();
    data_ = bigger;
    capacity_ = total;
    end_ = held;
  } else if (begin_ > 0 && (begin_ + total > capacity_ || capacity_ - end_ < kMinReadSpace)) {
    std::memmove(data_, data_ + begin_, held);
    begin_ = 0;
    end_ = held;
  }
  return {data_ + end_, capacity_ - end_};
}

void IoBuffer::Consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) ReleaseStorage();
}

void IoBuffer::ReleaseStorage() {
  if (data_ != nullptr) {
    if (pooled_) {
      BufferPool::ForThisThread().Release(data_);
    } else {
      delete[] data_;
    }
  }
  data_ = nullptr;
  capacity_ = begin_ = end_ = 0;
  pooled_ = false;
}

}  // namespace pgmask::proxy
