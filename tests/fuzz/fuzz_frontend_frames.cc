// Frames a client sends (Direction::kFrontend): chunked reassembly, FrameDecoder, and every typed
// view of protocol/messages.h on each frame body. Input: a chunking seed byte, then the stream.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/frame_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pgmask::fuzz::FuzzFrames(pgmask::protocol::Direction::kFrontend, data, size);
}
