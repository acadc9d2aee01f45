#include "core/errors.h"

#include <cstdio>
#include <cstdlib>

namespace hone {

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "hone: internal check failed at %s:%d: %s\n", file, line, cond);
  std::abort();
}

}  // namespace hone
