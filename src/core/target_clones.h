// HONE_VECTOR_CLONES: a function compiled for AVX-512, AVX2 and the baseline, the best chosen
// when the program loads (GCC's target_clones, an ifunc). Under ThreadSanitizer it is the
// baseline alone: the loader calls ifunc resolvers before the sanitizer's runtime is up, and an
// instrumented resolver crashes there.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define HONE_VECTOR_CLONES
#else
#define HONE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
