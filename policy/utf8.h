// UTF-8 helpers for mask functions: they count code points and never split a character.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgmask::policy {

// True when `s` is well-formed UTF-8: no overlong forms, surrogates, or code points past U+10FFFF.
bool IsValidUtf8(std::string_view s);

// Number of code points in `s`, which must be valid UTF-8.
size_t CodePointCount(std::string_view s);

// Byte offset where code point number `n` starts, or s.size() when `s` has n or fewer.
size_t CodePointOffset(std::string_view s, size_t n);

// The code point starting at s[pos] (`s` valid UTF-8, pos < s.size()); advances pos past it.
uint32_t NextCodePoint(std::string_view s, size_t& pos);

// Appends `code_point` (a scalar value: not a surrogate, at most U+10FFFF) as UTF-8.
void AppendCodePoint(uint32_t code_point, std::string& out);

// The longest prefix of `s` (valid UTF-8) that fits in max_bytes without splitting a character.
std::string_view TruncateToBytes(std::string_view s, size_t max_bytes);

}  // namespace pgmask::policy
