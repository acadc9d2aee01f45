// Internal helpers to build Status values with fmt-formatted messages.
//   return InvalidArgument("input {}: expected rank {}, got {}", name, 4, rank);
#pragma once

#include <fmt/format.h>

#include "hone/status.h"

namespace hone {

#define HONE_DEFINE_ERROR_(Name)                                                     \
  template <typename... Args>                                                        \
  Status Name(fmt::format_string<Args...> f, Args&&... args) {                       \
    return Status(StatusCode::k##Name, fmt::format(f, std::forward<Args>(args)...)); \
  }

HONE_DEFINE_ERROR_(InvalidArgument)
HONE_DEFINE_ERROR_(InvalidModel)
HONE_DEFINE_ERROR_(NotSupported)
HONE_DEFINE_ERROR_(NotFound)
HONE_DEFINE_ERROR_(Internal)
HONE_DEFINE_ERROR_(OutOfMemory)
#undef HONE_DEFINE_ERROR_

// Aborts with a message: for broken internal invariants only, never for bad input.
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);

}  // namespace hone

#define HONE_CHECK(cond) ((cond) ? (void)0 : ::hone::CheckFailed(__FILE__, __LINE__, #cond))
