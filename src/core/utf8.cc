#include "core/utf8.h"

namespace hone {

uint32_t DecodeUtf8(std::string_view s, size_t& i, bool& ok) {
  const unsigned char c0 = static_cast<unsigned char>(s[i]);
  ok = true;
  int extra = 0;
  uint32_t cp = 0;
  if (c0 < 0x80) {
    ++i;
    return c0;
  } else if ((c0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = c0 & 0x07;
  } else {
    ok = false;
    ++i;
    return c0;
  }
  for (int k = 1; k <= extra; ++k) {
    if (i + static_cast<size_t>(k) >= s.size() ||
        (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xC0) != 0x80) {
      ok = false;
      ++i;
      return c0;
    }
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
  }
  i += static_cast<size_t>(extra) + 1;
  return cp;
}

void EncodeUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace hone
