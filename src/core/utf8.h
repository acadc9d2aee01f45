// UTF-8 encoding and decoding of single code points (string kernels, .npy text arrays).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hone {

// Decodes one code point at s[i]; advances i. Invalid bytes decode as themselves (ok = false).
uint32_t DecodeUtf8(std::string_view s, size_t& i, bool& ok);
// Appends code point `cp` (below 0x110000) to `out`.
void EncodeUtf8(uint32_t cp, std::string& out);

}  // namespace hone
