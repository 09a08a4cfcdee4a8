// inet in binary (inet_send): family (2 = IPv4, 3 = IPv6; PGSQL_AF_INET/PGSQL_AF_INET6, not the
// platform's AF_* values), netmask bits, is_cidr flag, address length, address bytes. The text
// form is what inet_out prints: the address, then "/bits" unless the mask covers it all.
#include <arpa/inet.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "policy/binary_codecs.h"

namespace pgmask::policy::binary {
namespace {

constexpr uint8_t kFamilyV4 = 2;
constexpr uint8_t kFamilyV6 = 3;
constexpr size_t kV4Bytes = 4;
constexpr size_t kV6Bytes = 16;
constexpr size_t kV6Words = 8;
constexpr size_t kHeaderBytes = 4;

void AppendDecimal(unsigned value, std::string& out) {
  char buf[8];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

void AppendV4(const uint8_t* bytes, std::string& out) {
  for (size_t i = 0; i < kV4Bytes; ++i) {
    if (i > 0) out.push_back('.');
    AppendDecimal(bytes[i], out);
  }
}

// The server's formatting (src/port/inet_net_ntop.c): the first longest run of two or more zero
// words becomes "::", and an address whose first six words are zero, or the first five zero and
// the sixth ffff, ends in dotted IPv4.
void AppendV6(const uint8_t* bytes, std::string& out) {
  unsigned words[kV6Words];
  for (size_t i = 0; i < kV6Words; ++i) words[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];
  size_t best_base = kV6Words;
  size_t best_len = 0;
  for (size_t i = 0; i < kV6Words;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < kV6Words && words[end] == 0) ++end;
    if (end - i > best_len) {
      best_base = i;
      best_len = end - i;
    }
    i = end;
  }
  if (best_len < 2) {
    best_base = kV6Words;
    best_len = 0;
  }
  const bool v4_tail =
      best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xFFFF));
  for (size_t i = 0; i < kV6Words; ++i) {
    if (i >= best_base && i < best_base + best_len) {
      if (i == best_base) out.push_back(':');
      continue;
    }
    if (i != 0) out.push_back(':');
    if (i == 6 && v4_tail) {
      AppendV4(bytes + 12, out);
      return;
    }
    char buf[8];
    const auto r = std::to_chars(buf, buf + sizeof(buf), words[i], 16);
    out.append(buf, r.ptr);
  }
  if (best_len > 0 && best_base + best_len == kV6Words) out.push_back(':');
}

}  // namespace

bool InetToText(std::string_view binary, std::string& out) {
  if (binary.size() < kHeaderBytes) return false;
  const auto family = static_cast<uint8_t>(binary[0]);
  const auto bits = static_cast<uint8_t>(binary[1]);
  // binary[2] is the is_cidr flag, which inet_recv ignores too.
  const auto length = static_cast<uint8_t>(binary[3]);
  const size_t expected = family == kFamilyV4 ? kV4Bytes : family == kFamilyV6 ? kV6Bytes : 0;
  if (expected == 0 || length != expected || binary.size() != kHeaderBytes + expected ||
      bits > 8 * expected) {
    return false;
  }
  const auto* address = reinterpret_cast<const uint8_t*>(binary.data() + kHeaderBytes);
  out.clear();
  if (family == kFamilyV4) {
    AppendV4(address, out);
  } else {
    AppendV6(address, out);
  }
  if (bits != 8 * expected) {
    out.push_back('/');
    AppendDecimal(bits, out);
  }
  return true;
}

bool TextToInet(std::string_view text, std::string& out) {
  const size_t slash = text.find('/');
  const std::string_view address = text.substr(0, slash);
  const bool v6 = address.find(':') != std::string_view::npos;
  const size_t length = v6 ? kV6Bytes : kV4Bytes;
  unsigned bits = static_cast<unsigned>(8 * length);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() || ptr != digits.data() + digits.size() ||
        bits > 8 * length) {
      return false;
    }
  }
  // inet_pton wants a terminated string; the longest address is 45 characters.
  char terminated[64];
  if (address.size() >= sizeof(terminated) || address.find('\0') != std::string_view::npos) return false;
  std::memcpy(terminated, address.data(), address.size());
  terminated[address.size()] = '\0';
  uint8_t bytes[kV6Bytes];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, terminated, bytes) != 1) return false;
  out.clear();
  out.push_back(static_cast<char>(v6 ? kFamilyV6 : kFamilyV4));
  out.push_back(static_cast<char>(bits));
  out.push_back('\0');  // is_cidr: an inet value, not a cidr
  out.push_back(static_cast<char>(length));
  out.append(reinterpret_cast<const char*>(bytes), length);
  return true;
}

}  // namespace pgmask::policy::binary
