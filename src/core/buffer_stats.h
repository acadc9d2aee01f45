// Counters of the engine's own heap traffic, for tests and benchmarks (not a public API).
#pragma once

#include <cstdint>

namespace hone {

// Buffers Buffer::Allocate has handed out since the process started (every thread).
uint64_t HeapBufferAllocations();

}  // namespace hone
