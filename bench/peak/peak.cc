// hone_peak: measures this machine's float32 matrix-multiply throughput with oneDNN, as the
// "peak" that bench/compare divides each engine's achieved GFLOP/s by.
//
//   hone_peak [--threads N] [--size S | --m M --n N --k K] [--reps R]
//
// Times a float32 oneDNN matmul C[M,N] = A[M,K] x B[K,N] (default 2048 x 2048 x 2048) on N OpenMP
// threads (default 1; omp_set_num_threads, which oneDNN's OpenMP runtime follows). B is reordered
// once into the layout oneDNN prefers (format_tag::any), as an inference engine packs constant
// weights; A and C are plain row-major. One untimed run, then R timed runs (default 5); the best
// one counts: gflops = 2*M*N*K / best time / 1e9.
//
// Prints one JSON line:
//   {"threads": N, "gflops": X, "m": M, "n": N, "k": K, "reps": R, "best_ms": T, "median_ms": T}
// Exit status: 0 ok, 1 oneDNN error, 2 bad arguments.

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

constexpr int64_t kDefaultSize = 2048;
constexpr int kDefaultReps = 5;

struct Options {
  int threads = 1;
  int64_t m = kDefaultSize;
  int64_t n = kDefaultSize;
  int64_t k = kDefaultSize;
  int reps = kDefaultReps;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "hone_peak: %s\nusage: hone_peak [--threads N] [--size S | --m M --n N --k K] "
               "[--reps R]\n",
               why);
  std::exit(2);
}

int64_t PositiveArg(const char* name, const char* value) {
  if (value == nullptr) Usage((std::string(name) + " needs a value").c_str());
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || v < 1)
    Usage((std::string(name) + " needs an integer >= 1, got '" + value + "'").c_str());
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "-h" || a == "--help") {
      std::printf(
          "hone_peak [--threads N] [--size S | --m M --n N --k K] [--reps R]\n"
          "Times a float32 oneDNN matmul (default 2048^3, best of 5) and prints\n"
          "{\"threads\": N, \"gflops\": X, ...} as one JSON line.\n");
      std::exit(0);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(PositiveArg("--threads", v));
    } else if (a == "--size") {
      o.m = o.n = o.k = PositiveArg("--size", v);
    } else if (a == "--m") {
      o.m = PositiveArg("--m", v);
    } else if (a == "--n") {
      o.n = PositiveArg("--n", v);
    } else if (a == "--k") {
      o.k = PositiveArg("--k", v);
    } else if (a == "--reps") {
      o.reps = static_cast<int>(PositiveArg("--reps", v));
    } else {
      Usage(("unknown argument '" + a + "'").c_str());
    }
    ++i;
  }
  return o;
}

// Deterministic values in [-1, 1): the timing must not depend on denormals or special values.
void Fill(std::vector<float>& v, uint32_t seed) {
  uint32_t s = seed;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
}

int Run(const Options& o) {
  using dnnl::memory;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  omp_set_num_threads(o.threads);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);

  const memory::desc a_md({o.m, o.k}, dt::f32, tag::ab);
  const memory::desc b_plain_md({o.k, o.n}, dt::f32, tag::ab);
  const memory::desc b_any_md({o.k, o.n}, dt::f32, tag::any);
  const memory::desc c_md({o.m, o.n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any_md, c_md), engine);
  const dnnl::matmul prim(pd);

  std::vector<float> a(static_cast<size_t>(o.m * o.k));
  std::vector<float> b(static_cast<size_t>(o.k * o.n));
  std::vector<float> c(static_cast<size_t>(o.m * o.n));
  Fill(a, 1);
  Fill(b, 2);
  memory a_mem(a_md, engine, a.data());
  memory b_plain(b_plain_md, engine, b.data());
  memory c_mem(c_md, engine, c.data());
  memory b_mem = b_plain;
  if (pd.weights_desc() != b_plain_md) {  // pack B once, outside the timing
    b_mem = memory(pd.weights_desc(), engine);
    dnnl::reorder(b_plain, b_mem).execute(stream, b_plain, b_mem);
  }

  auto once = [&] {
    prim.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
  };
  once();  // first run: JIT code generation, page faults, OpenMP team start
  std::vector<double> ms;
  for (int r = 0; r < o.reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double flop =
      2.0 * static_cast<double>(o.m) * static_cast<double>(o.n) * static_cast<double>(o.k);
  const double gflops = flop / (ms.front() / 1e3) / 1e9;
  std::printf(
      "{\"threads\": %d, \"gflops\": %.2f, \"m\": %lld, \"n\": %lld, \"k\": %lld, \"reps\": %d, "
      "\"best_ms\": %.3f, \"median_ms\": %.3f}\n",
      o.threads, gflops, static_cast<long long>(o.m), static_cast<long long>(o.n),
      static_cast<long long>(o.k), o.reps, ms.front(), ms[ms.size() / 2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  try {
    return Run(o);
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "hone_peak: oneDNN error: %s (status %d)\n", e.what(),
                 static_cast<int>(e.status));
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hone_peak: error: %s\n", e.what());
    return 1;
  }
}
