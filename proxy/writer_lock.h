// Serializes writers of one socket inside one session. All users run on the session's thread, so a
// flag and a timer used as a wake-up are enough; the uncontended path is a bool test.
#pragma once

#include <chrono>

#include "proxy/asio.h"

namespace pgmask::proxy {

class WriterLock {
 public:
  explicit WriterLock(const asio::any_io_executor& ex) : wake_(ex, std::chrono::steady_clock::time_point::max()) {}

  awaitable<void> Lock() {
    while (busy_) {
      co_await wake_.async_wait(kUseTuple);
    }
    busy_ = true;
  }
  bool busy() const { return busy_; }
  void Unlock() {
    busy_ = false;
    wake_.cancel_one();
  }

 private:
  bool busy_ = false;
  asio::steady_timer wake_;
};

}  // namespace pgmask::proxy
