// The engine's own heap buffers: counters for tests and benchmarks, and trimming (not a public
// API).
#pragma once

#include <cstdint>

namespace hone {

// Buffers Buffer::Allocate has handed out since the process started (every thread).
uint64_t HeapBufferAllocations();

// Frees the blocks Buffer::Allocate keeps for reuse (after a run whose buffers will come from an
// arena from now on, so that they do not sit beside it).
void ReleaseCachedBuffers();

}  // namespace hone
