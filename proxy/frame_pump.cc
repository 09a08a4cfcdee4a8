#include "proxy/frame_pump.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace pgmask::proxy {

using protocol::DecodeStatus;
using protocol::kFrameHeaderSize;

void OutputBatch::Forward(const uint8_t* data, size_t size) {
  if (size == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    if (last.data != nullptr && last.data + last.size == data) {
      last.size += size;
      return;
    }
  }
  segments_.push_back({data, 0, size});
}

void OutputBatch::Emit(std::string_view bytes) {
  const size_t start = scratch_.size();
  scratch_.append(bytes);
  EmitCommitted(start);
}

void OutputBatch::EmitCommitted(size_t scratch_start) {
  const size_t size = scratch_.size() - scratch_start;
  if (size == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    if (last.data == nullptr && last.offset + last.size == scratch_start) {
      last.size += size;
      return;
    }
  }
  segments_.push_back({nullptr, scratch_start, size});
}

void OutputBatch::Detach() {
  std::vector<Segment> segments;
  segments.swap(segments_);
  for (const Segment& seg : segments) {
    if (seg.data == nullptr) {
      segments_.push_back(seg);
    } else {
      Emit(std::string_view(reinterpret_cast<const char*>(seg.data), seg.size));
    }
  }
}

void OutputBatch::Clear() {
  segments_.clear();
  scratch_.clear();
  buffers_.clear();
}

void OutputBatch::ReleaseMemory() {
  constexpr size_t kKeep = 4096;
  if (scratch_.capacity() > kKeep) std::string().swap(scratch_);
}

const std::vector<boost::asio::const_buffer>& OutputBatch::Buffers() {
  buffers_.clear();
  for (const Segment& s : segments_) {
    const void* base = s.data != nullptr ? static_cast<const void*>(s.data) : scratch_.data() + s.offset;
    buffers_.emplace_back(base, s.size);
  }
  return buffers_;
}

awaitable<FramePump::Readiness> FramePump::WaitReadable() {
  auto [ec] = co_await source_.socket().async_wait(tcp::socket::wait_read, kUseTuple);
  if (ec == asio::error::operation_aborted && wake_requested_) {
    wake_requested_ = false;
    co_return Readiness::kWoken;
  }
  if (ec) {
    last_error_ = ec;
    co_return Readiness::kFailed;
  }
  co_return Readiness::kReadable;
}

awaitable<bool> FramePump::ReadSome(size_t want_total, bool due) {
  if (source_.tls()) {
    const bool more = co_await ReadSomeTls(want_total);
    co_return more;
  }
  if (due) {
    const bool more = co_await ReadSomeDue(want_total);
    co_return more;
  }
  // Wait for readiness before taking a buffer, so an idle session holds none.
  if (!last_read_filled_) {
    if (buffer_.empty()) out_.ReleaseMemory();
    const Readiness r = co_await WaitReadable();
    if (r != Readiness::kReadable) co_return r == Readiness::kWoken;
  }
  for (;;) {
    std::span<uint8_t> space = buffer_.PrepareWrite(std::max(want_total, buffer_.size() + 1));
    boost::system::error_code ec;
    const size_t n = source_.socket().read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      buffer_.Consume(0);  // gives the storage back if nothing is held
      const Readiness r = co_await WaitReadable();
      if (r != Readiness::kReadable) co_return r == Readiness::kWoken;
      continue;
    }
    co_return TakeRead(ec, n, space.size());
  }
}

bool FramePump::TakeRead(const boost::system::error_code& ec, size_t n, size_t space) {
  if (ec) {
    buffer_.Consume(0);
    last_error_ = ec;
    return false;
  }
  buffer_.Commit(n);
  ++reads_;
  last_read_filled_ = n == space;
  return true;
}

awaitable<bool> FramePump::ReadSomeDue(size_t want_total) {
  // Asio reads at once unless the last read drained the socket, and otherwise queues the read
  // on the descriptor as registered: no readiness wait, no re-arming.
  std::span<uint8_t> space = buffer_.PrepareWrite(std::max(want_total, buffer_.size() + 1));
  auto [ec, n] = co_await source_.socket().async_read_some(asio::buffer(space.data(), space.size()), kUseTuple);
  if (ec == asio::error::operation_aborted && wake_requested_) {
    wake_requested_ = false;
    buffer_.Consume(0);
    co_return true;
  }
  co_return TakeRead(ec, n, space.size());
}

awaitable<bool> FramePump::ReadSomeTls(size_t want_total) {
  // Decrypted bytes can wait inside OpenSSL while the socket shows nothing to read, so TLS
  // sessions read directly instead of waiting for readiness first (and hold a buffer while idle).
  std::span<uint8_t> space = buffer_.PrepareWrite(std::max(want_total, buffer_.size() + 1));
  auto [ec, n] = co_await source_.ReadTls(space);
  if (ec == asio::error::operation_aborted && wake_requested_) {
    wake_requested_ = false;
    buffer_.Consume(0);
    co_return true;
  }
  if (ec) {
    buffer_.Consume(0);
    last_error_ = ec == asio::ssl::error::stream_truncated ? asio::error::eof : ec;
    co_return false;
  }
  buffer_.Commit(n);
  ++reads_;
  co_return true;
}

void FramePump::Wake() {
  wake_requested_ = true;
  boost::system::error_code ignored;
  source_.socket().cancel(ignored);
}

void FramePump::Release() {
  release_pending_ = true;
  if (hold_timer_) hold_timer_->cancel();
}

awaitable<void> FramePump::WaitForRelease() {
  if (!release_pending_) {
    if (!hold_timer_) hold_timer_ = std::make_unique<asio::steady_timer>(source_.get_executor());
    hold_timer_->expires_at(asio::steady_timer::time_point::max());
    co_await hold_timer_->async_wait(kUseTuple);
  }
  release_pending_ = false;
}

awaitable<bool> FramePump::Fill(size_t n) {
  while (buffer_.size() < n) {
    const bool more = co_await ReadSome(n);
    if (!more) co_return false;
  }
  co_return true;
}

namespace {
PumpResult EndOfRead(const boost::system::error_code& ec) {
  if (ec == asio::error::eof) return {PumpEnd::kPeerClosed, "peer closed the connection"};
  return {PumpEnd::kReadError, "read failed"};
}
}  // namespace

awaitable<FramePump::FrameOrEnd> FramePump::ReadFrame(uint32_t max_body) {
  for (;;) {
    const std::span<uint8_t> data = buffer_.Data();
    const protocol::DecodeResult d = decoder_.Decode(data);
    size_t need = kFrameHeaderSize;
    if (d.status == DecodeStatus::kViolation) {
      co_return FrameOrEnd{{}, false, {PumpEnd::kViolation, d.violation}};
    }
    if (d.status == DecodeStatus::kFrame) {
      if (d.header.body_size() > max_body) {
        co_return FrameOrEnd{{}, false, {PumpEnd::kViolation, "message too large"}};
      }
      if (data.size() >= d.header.frame_size()) co_return FrameOrEnd{d.header, true, {}};
      need = d.header.frame_size();
    }
    const bool more = co_await ReadSome(need);
    if (!more) co_return FrameOrEnd{{}, false, EndOfRead(last_error_)};
  }
}

size_t FramePump::Process(FrameSink& sink, bool& stop, PumpResult& result) {
  const std::span<uint8_t> data = buffer_.Data();
  size_t pos = 0;
  need_ = 0;
  while (pos < data.size()) {
    if (stream_remaining_ > 0) {
      const size_t n = std::min(stream_remaining_, data.size() - pos);
      out_.Forward(data.data() + pos, n);
      pos += n;
      stream_remaining_ -= n;
      continue;
    }
    const std::span<uint8_t> rest = data.subspan(pos);
    const protocol::DecodeResult d = decoder_.Decode(rest);
    if (d.status == DecodeStatus::kNeedMoreData) {
      need_ = kFrameHeaderSize;
      break;
    }
    if (d.status == DecodeStatus::kViolation) {
      stop = true;
      result = {PumpEnd::kViolation, d.violation};
      break;
    }
    const size_t size = d.header.frame_size();
    if (rest.size() >= size) {
      const Verdict v = sink.OnFrame(d.header, rest.first(size), out_);
      if (v == Verdict::kHold || v == Verdict::kHoldAll) {
        held_ = true;
        hold_output_ = v == Verdict::kHoldAll;
        break;
      }
      if (v == Verdict::kForward || v == Verdict::kForwardAndStop) out_.Forward(rest.data(), size);
      pos += size;
      if (v == Verdict::kForwardAndStop || v == Verdict::kStop) {
        stop = true;
        result = {PumpEnd::kStopped, {}};
        break;
      }
      continue;
    }
    if (!sink.NeedsWholeFrame(d.header)) {
      sink.OnStreamedFrame(d.header);
      out_.Forward(rest.data(), rest.size());
      stream_remaining_ = size - rest.size();
      pos = data.size();
      break;
    }
    need_ = size;
    break;
  }
  return pos;
}

awaitable<PumpResult> FramePump::Relay(Stream& destination, FrameSink& sink, WriterLock* lock) {
  for (;;) {
    bool stop = false;
    PumpResult result{PumpEnd::kStopped, {}};
    const size_t used = Process(sink, stop, result);
    if (!stop && sink.OnIdle(out_) == Verdict::kStop) stop = true;
    if (held_ && hold_output_ && !stop) {
      // Nothing goes out before the held frame: what is pending no longer needs the buffer.
      out_.Detach();
    } else if (!out_.empty()) {
      if (lock != nullptr) {
        co_await lock->Lock();
      }
      auto [ec, n] = co_await destination.Write(out_.Buffers());
      if (lock != nullptr) lock->Unlock();
      out_.Clear();
      if (ec) {
        last_error_ = ec;
        write_failed_ = true;
        co_return PumpResult{PumpEnd::kWriteError, "write failed"};
      }
      sink.OnWritten();
    }
    buffer_.Consume(used);
    if (stop) co_return result;
    if (held_) {
      held_ = false;
      co_await WaitForRelease();
      continue;
    }
    if (last_read_filled_) {
      // More is waiting and will be read without a wait, and writes that fit the socket do not
      // wait either: let the thread's other sessions run between two batches.
      co_await asio::post(source_.get_executor(), kUseTuple);
    }
    const bool due = sink.InputDue();
    const bool more = co_await ReadSome(need_ != 0 ? need_ : buffer_.size() + 1, due);
    if (!more) co_return EndOfRead(last_error_);
  }
}

}  // namespace pgmask::proxy
