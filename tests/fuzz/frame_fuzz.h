// The body of fuzz_frontend_frames and fuzz_backend_frames: a byte stream cut into chunks as a
// socket would deliver them, reassembled and split by FrameDecoder the way FramePump does, and
// every typed view of messages.h run on every whole frame's body.
//
// Input: one byte seeding the chunk sizes, then the stream (tagged messages, as on the wire).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "tests/fuzz/fuzz_support.h"

namespace pgmask::fuzz {

// Small enough that the fuzzer reaches "message too large", large enough for real messages.
inline constexpr uint32_t kFuzzMaxBody = 1 << 16;

// Runs every view on `body` (a heap block of exactly the body's size) and checks that whatever a
// view accepts points inside the body.
inline void RunAllViews(std::span<const uint8_t> body) {
  using namespace protocol;
  std::vector<FieldDescription> fields;
  if (ParseRowDescription(body, fields).ok()) {
    for (const FieldDescription& f : fields) {
      PGMASK_FUZZ_CHECK(Within(body, f.name));
      Touch(f.name);
    }
  }
  std::vector<WireValue> values;
  if (ParseDataRow(body, values).ok()) {
    for (const WireValue& v : values) {
      PGMASK_FUZZ_CHECK(v.is_null() || Within(body, v.data, static_cast<size_t>(v.size)));
      Touch(v.text());
    }
  }
  if (auto bind = ParseBind(body); bind.ok()) {
    PGMASK_FUZZ_CHECK(Within(body, bind->portal) && Within(body, bind->statement));
    for (const WireValue& v : bind->parameters) {
      PGMASK_FUZZ_CHECK(v.is_null() || Within(body, v.data, static_cast<size_t>(v.size)));
      Touch(v.text());
    }
    // Format codes are read as PostgreSQL reads them, unchecked (it rejects a bad one only when it
    // uses it): what must hold is that every column's code is read inside the message.
    volatile int sum = 0;
    for (size_t i = 0; i <= bind->parameters.size(); ++i) sum = sum + bind->parameter_formats.ForColumn(i);
    for (size_t i = 0; i <= size_t{bind->result_formats.count()} + 1; ++i) {
      sum = sum + bind->result_formats.ForColumn(i);
    }
    if (bind->parameter_formats.count() > 0) {
      PGMASK_FUZZ_CHECK(Within(body, bind->parameter_formats.raw(), size_t{bind->parameter_formats.count()} * 2));
    }
    if (bind->result_formats.count() > 0) {
      PGMASK_FUZZ_CHECK(Within(body, bind->result_formats.raw(), size_t{bind->result_formats.count()} * 2));
    }
  }
  if (auto parse = ParseParse(body); parse.ok()) {
    PGMASK_FUZZ_CHECK(Within(body, parse->statement) && Within(body, parse->query));
    PGMASK_FUZZ_CHECK(Within(body, parse->parameter_types, size_t{parse->parameter_type_count} * 4));
    volatile uint32_t sum = 0;
    for (size_t i = 0; i < parse->parameter_type_count; ++i) sum = sum + parse->ParameterType(i);
  }
  if (auto query = ParseQuery(body); query.ok()) {
    PGMASK_FUZZ_CHECK(Within(body, *query) && query->size() + 1 == body.size());
  }
  if (auto target = ParseDescribeOrClose(body); target.ok()) {
    PGMASK_FUZZ_CHECK(target->kind == 'S' || target->kind == 'P');
    PGMASK_FUZZ_CHECK(Within(body, target->name));
  }
  if (auto execute = ParseExecute(body); execute.ok()) PGMASK_FUZZ_CHECK(Within(body, execute->portal));
  if (auto copy = ParseCopyResponse(body); copy.ok()) {
    PGMASK_FUZZ_CHECK(copy->format == 0 || copy->format == 1);
    for (int16_t f : copy->column_formats) PGMASK_FUZZ_CHECK(f == 0 || f == 1);
  }
  if (auto error = ParseErrorNotice(body); error.ok()) {
    for (const ErrorNoticeField& f : error->fields) {
      PGMASK_FUZZ_CHECK(f.code != '\0' && Within(body, f.value));
    }
    Touch(error->sqlstate());
    Touch(error->severity());
    Touch(error->message());
  }
  (void)ParseBackendKeyData(body);
  if (auto ready = ParseReadyForQuery(body); ready.ok()) {
    PGMASK_FUZZ_CHECK(*ready == 'I' || *ready == 'T' || *ready == 'E');
  }
  (void)ParseAuthenticationCode(body);
  if (auto status = ParseParameterStatus(body); status.ok()) {
    PGMASK_FUZZ_CHECK(Within(body, status->name) && Within(body, status->value));
  }
  if (auto notification = ParseNotification(body); notification.ok()) {
    PGMASK_FUZZ_CHECK(Within(body, notification->channel) && Within(body, notification->payload));
  }
}

struct DecodedFrame {
  protocol::MessageType type;
  std::string body;
  bool operator==(const DecodedFrame&) const = default;
};

// Splits `stream` into frames as they become whole, receiving it in the given chunks. Stops at
// the first violation (the proxy answers with an ErrorResponse and closes).
inline std::vector<DecodedFrame> DecodeStream(protocol::Direction direction, std::span<const uint8_t> stream,
                                              Chunker* chunker, bool* violation) {
  using namespace protocol;
  const FrameDecoder decoder(direction, kFuzzMaxBody);
  std::vector<DecodedFrame> frames;
  std::vector<uint8_t> buffer;  // what the pump holds: received, not yet consumed
  size_t received = 0;
  *violation = false;
  while (received < stream.size()) {
    const size_t n = chunker != nullptr ? chunker->Next(stream.size() - received) : stream.size() - received;
    buffer.insert(buffer.end(), stream.begin() + received, stream.begin() + received + n);
    received += n;
    while (true) {
      const std::vector<uint8_t> view = ExactCopy(buffer);
      const DecodeResult r = decoder.Decode(view);
      if (r.status == DecodeStatus::kNeedMoreData) {
        PGMASK_FUZZ_CHECK(buffer.size() < kFrameHeaderSize);
        break;
      }
      if (r.status == DecodeStatus::kViolation) {
        PGMASK_FUZZ_CHECK(!r.violation.empty());
        *violation = true;
        return frames;
      }
      const FrameHeader& h = r.header;
      PGMASK_FUZZ_CHECK(h.info != nullptr && h.info->direction == direction);
      PGMASK_FUZZ_CHECK(h.info->tag == static_cast<char>(buffer[0]));
      PGMASK_FUZZ_CHECK(h.length >= 4 && h.body_size() <= kFuzzMaxBody);
      PGMASK_FUZZ_CHECK(h.info->fixed_length == 0 || h.length == h.info->fixed_length);
      if (buffer.size() < h.frame_size()) break;  // the body is not whole yet
      const std::vector<uint8_t> body =
          ExactCopy(std::span<const uint8_t>(buffer).subspan(kFrameHeaderSize, h.body_size()));
      RunAllViews(body);
      frames.push_back({h.type(), std::string(body.begin(), body.end())});
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(h.frame_size()));
    }
  }
  return frames;
}

inline int FuzzFrames(protocol::Direction direction, const uint8_t* data, size_t size) {
  Input in(data, size);
  Chunker chunker(in.Byte());
  const std::span<const uint8_t> stream = in.Rest();
  bool chunked_violation = false;
  bool whole_violation = false;
  const std::vector<DecodedFrame> chunked = DecodeStream(direction, stream, &chunker, &chunked_violation);
  // Sans-I/O: how the bytes were cut must not change the frames or where a violation is found.
  const std::vector<DecodedFrame> whole = DecodeStream(direction, stream, nullptr, &whole_violation);
  PGMASK_FUZZ_CHECK(chunked == whole);
  PGMASK_FUZZ_CHECK(chunked_violation == whole_violation);
  return 0;
}

}  // namespace pgmask::fuzz
