// JSON text helpers shared by the CLI's --json output and hone serve's responses.
#pragma once

#include <string>
#include <string_view>

namespace hone {

// `s` as a JSON string literal: quoted, with quotes, backslashes and control characters
// escaped (bytes >= 0x80 pass through: UTF-8 stays UTF-8).
std::string JsonString(std::string_view s);

}  // namespace hone
