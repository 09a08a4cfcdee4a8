// client -> server traffic after the handshake: tracks where the conversation stands, re-reads
// the catalog at safe points, and refuses statements whose output would hold a denied column.
#pragma once

#include "policy/copy_statement.h"
#include "proxy/frame_pump.h"
#include "proxy/session_state.h"

namespace pgmask::proxy {

class ClientSink final : public FrameSink {
 public:
  explicit ClientSink(SessionState& s) : s_(s) {}

  bool NeedsWholeFrame(const protocol::FrameHeader& h) override;
  void OnStreamedFrame(const protocol::FrameHeader&) override { s_.idle = false; }
  void OnWritten() override { s_.timer.ClientWritten(); }
  Verdict OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) override;

 private:
  // Sends the catalog query ahead of the client's message when a refresh is due and nothing of
  // the client's is in flight (an injected Query mid extended-protocol would close its portals).
  void MaybeRefreshCatalog(OutputBatch& out);
  void DescribeCopy(const policy::CopyToClient& copy, OutputBatch& out);
  Verdict NullBindIfRefused(protocol::Bytes body, OutputBatch& out);
  Verdict Guard(const protocol::FrameHeader& h, protocol::Bytes body, OutputBatch& out);
  void Track(protocol::MessageType type);
  // Records what the server will answer; before an Execute of a portal nobody described, adds
  // pgmask's own Describe so the rows can be masked by their columns.
  void Expect(protocol::MessageType type, protocol::Bytes body, OutputBatch& out);

  SessionState& s_;
};

}  // namespace pgmask::proxy
