// What a client (or a hostile upstream, or an operator's file) hands pgmask's SCRAM termination
// (proxy/scram_*.h, proxy/auth_file.h, protocol/sasl_messages.h): the first byte picks the parser,
// the rest is its input. Every parser must answer with a value or an error, never crash or read
// out of bounds; what parses must survive being formatted and parsed again where the format is
// pgmask's own.
// Input: selector byte, then the message, verifier or file text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/sasl_messages.h"
#include "proxy/auth_file.h"
#include "proxy/scram_messages.h"
#include "proxy/scram_verifier.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgmask;
  if (size == 0) return 0;
  const std::vector<uint8_t> bytes = fuzz::ExactCopy({data + 1, size - 1});
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const protocol::Bytes body(bytes.data(), bytes.size());
  switch (data[0] % 8) {
    case 0: {
      const auto first = proxy::scram::ParseClientFirst(text);
      if (first.ok()) {
        PGMASK_FUZZ_CHECK(first->gs2_header.size() + first->bare.size() <= text.size());
        const std::string formatted = proxy::scram::FormatClientFirst(first->gs2_header, first->nonce);
        const auto again = proxy::scram::ParseClientFirst(formatted);
        PGMASK_FUZZ_CHECK(again.ok() && again->nonce == first->nonce);
      }
      break;
    }
    case 1: {
      const auto first = proxy::scram::ParseServerFirst(text);
      if (first.ok()) {
        const auto again = proxy::scram::ParseServerFirst(
            proxy::scram::FormatServerFirst(first->nonce, first->salt, first->iterations));
        PGMASK_FUZZ_CHECK(again.ok() && again->salt == first->salt && again->iterations == first->iterations);
      }
      break;
    }
    case 2:
      (void)proxy::scram::ParseClientFinal(text);
      break;
    case 3: {
      const auto signature = proxy::scram::ParseServerFinal(text);
      if (signature.ok()) PGMASK_FUZZ_CHECK(proxy::scram::ParseServerFinal(proxy::scram::FormatServerFinal(*signature)).ok());
      break;
    }
    case 4:
      if (proxy::scram::ParseVerifier(text).ok()) PGMASK_FUZZ_CHECK(proxy::scram::IsScramSecret(text));
      break;
    case 5:
      (void)proxy::AuthFile::Parse(text, "fuzz.txt");
      break;
    case 6:
      (void)protocol::ParseSaslMechanisms(body);
      (void)protocol::ParseSaslInitialResponse(body);
      break;
    case 7:
      (void)protocol::ParseSaslData(body, 11);
      (void)protocol::ParseSaslData(body, 12);
      break;
  }
  return 0;
}
