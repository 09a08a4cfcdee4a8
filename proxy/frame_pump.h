// Moves protocol frames from one stream (socket or TLS) to another. Complete frames are shown to a FrameSink that
// decides what to forward; frames the sink does not need whole are streamed through as they arrive,
// so a large pass-through message never has to fit in memory. Forwarded bytes are written straight
// from the read buffer, never copied.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_decoder.h"
#include "proxy/asio.h"
#include "proxy/buffer_pool.h"
#include "proxy/stream.h"
#include "proxy/writer_lock.h"

namespace pgmask::proxy {

// What goes out for one batch of input: slices of the read buffer and bytes pgmask wrote itself.
class OutputBatch {
 public:
  void Forward(const uint8_t* data, size_t size);
  void Emit(std::string_view bytes);
  // Lets a sink build a message in place; Commit the batch afterwards with EmitCommitted().
  std::string& scratch() { return scratch_; }
  void EmitCommitted(size_t scratch_start);
  // Copies the forwarded slices into the batch, so it no longer points into the read buffer.
  void Detach();
  bool empty() const { return segments_.empty(); }
  void Clear();
  // Gives back a large scratch buffer; called when the session goes idle so that a session that
  // once masked a big result does not keep its buffer.
  void ReleaseMemory();
  const std::vector<boost::asio::const_buffer>& Buffers();

 private:
  struct Segment {
    const uint8_t* data;  // null: the bytes are scratch_[offset, offset + size)
    size_t offset;
    size_t size;
  };
  std::vector<Segment> segments_;
  std::string scratch_;
  std::vector<boost::asio::const_buffer> buffers_;
};

enum class Verdict {
  kForward,          // send the frame on
  kDrop,             // the sink replaced it (or nothing goes out)
  kForwardAndStop,   // send it, flush, then end the pump
  kStop,             // flush what is pending, then end the pump
  kHold,             // not yet: flush what is pending, wait for Release(), then offer the frame again
  kHoldAll,          // as kHold, but what is pending waits too and goes out with what follows
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Whether the sink must see this frame whole; otherwise it may be streamed through in pieces.
  virtual bool NeedsWholeFrame(const protocol::FrameHeader& header) = 0;
  // A complete frame (header included). The sink may rewrite it in place or emit into `out`.
  virtual Verdict OnFrame(const protocol::FrameHeader& header, std::span<uint8_t> frame, OutputBatch& out) = 0;
  // A frame that will be streamed through without being shown whole.
  virtual void OnStreamedFrame(const protocol::FrameHeader& header) {}
  // Called before the pump waits for more input; may emit or ask to stop.
  virtual Verdict OnIdle(OutputBatch& out) { return Verdict::kForward; }
  // Called after a batch was written to the destination (for the statement timer).
  virtual void OnWritten() {}
  // Whether input is due soon (a reply is awaited). The pump then waits for it holding its read
  // buffer, which spares re-arming the socket in the reactor (an epoll_ctl) on every wait; an
  // idle source is waited for without a buffer.
  virtual bool InputDue() { return false; }
};

enum class PumpEnd {
  kPeerClosed,  // the source closed cleanly
  kReadError,
  kWriteError,
  kViolation,   // the source sent something that is not the protocol
  kStopped,     // the sink asked to stop
};

struct PumpResult {
  PumpEnd end;
  std::string_view detail;
};

class FramePump {
 public:
  FramePump(Stream& source, protocol::Direction direction, uint32_t max_body_size)
      : source_(source), decoder_(direction, max_body_size) {}

  // Buffered bytes not yet consumed.
  std::span<uint8_t> Buffered() { return buffer_.Data(); }
  void Consume(size_t n) { buffer_.Consume(n); }

  // Reads until at least n bytes are buffered. False on EOF or error (see last_error()).
  awaitable<bool> Fill(size_t n);

  // Reads one whole frame into the buffer; it stays at the front of Buffered() until Consume().
  // `max_body` caps this frame below the pump's general maximum.
  struct FrameOrEnd {
    protocol::FrameHeader header;
    bool ok;
    PumpResult end;
  };
  awaitable<FrameOrEnd> ReadFrame(uint32_t max_body);

  // Relays frames to `destination` until the source ends or the sink stops. A lock, when given,
  // is held around each write so that others can write whole messages between batches.
  awaitable<PumpResult> Relay(Stream& destination, FrameSink& sink, WriterLock* lock);

  // False while a streamed frame is partly forwarded or a write was cut short: nothing else may
  // be written to the destination then.
  bool at_message_boundary() const { return stream_remaining_ == 0 && !write_failed_; }
  // Makes a pending wait for input return so the sink's OnIdle runs. Only while the destination
  // has no write in flight on the source socket.
  void Wake();
  // Ends a hold (Verdict::kHold): the held frame is offered to the sink again. Harmless when
  // nothing is held.
  void Release();
  // Reads that brought bytes, so far: a watchdog compares two samples to see activity.
  uint64_t reads() const { return reads_; }
  const boost::system::error_code& last_error() const { return last_error_; }
  const protocol::FrameDecoder& decoder() const { return decoder_; }

 private:
  enum class Readiness { kReadable, kWoken, kFailed };
  awaitable<Readiness> WaitReadable();
  awaitable<void> WaitForRelease();
  // Reads once into the buffer, waiting for readiness first when nothing is pending; `due`:
  // with the buffer held (FrameSink::InputDue).
  awaitable<bool> ReadSome(size_t want_total, bool due = false);
  awaitable<bool> ReadSomeDue(size_t want_total);
  // Takes the result of a read of up to `space` bytes into the buffer; false on an error.
  bool TakeRead(const boost::system::error_code& ec, size_t n, size_t space);
  awaitable<bool> ReadSomeTls(size_t want_total);
  // Walks the buffered frames into `out_`. Returns how many bytes were used, and a result when the
  // pump must end.
  size_t Process(FrameSink& sink, bool& stop, PumpResult& result);

  Stream& source_;
  protocol::FrameDecoder decoder_;
  IoBuffer buffer_;
  OutputBatch out_;
  size_t stream_remaining_ = 0;
  size_t need_ = 0;  // bytes the frame at the front needs to be whole
  bool last_read_filled_ = false;
  uint64_t reads_ = 0;
  bool write_failed_ = false;
  bool wake_requested_ = false;
  bool held_ = false;
  bool hold_output_ = false;  // the hold is kHoldAll
  bool release_pending_ = false;
  // Created on the first hold only: most sessions never hold.
  std::unique_ptr<asio::steady_timer> hold_timer_;
  boost::system::error_code last_error_;
};

}  // namespace pgmask::proxy
