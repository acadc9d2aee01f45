#include "kernels/cpu/simd.h"

#include <spdlog/spdlog.h>

#include <atomic>

namespace hone::cpu {
namespace {

CpuIsa Detect() {
#ifdef HONE_SIMD_DISPATCH
  __builtin_cpu_init();
  // libgcc's checks include the OS enabling the wider register state (XCR0).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return CpuIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kBaseline;
}

std::atomic<int> max_isa{static_cast<int>(CpuIsa::kAvx512)};

}  // namespace

CpuIsa DetectedIsa() {
  static const CpuIsa isa = [] {
    CpuIsa d = Detect();
    spdlog::debug("cpu kernels: vector ISA {}", CpuIsaName(d));
    return d;
  }();
  return isa;
}

CpuIsa ActiveIsa() {
  return static_cast<CpuIsa>(
      std::min(static_cast<int>(DetectedIsa()), max_isa.load(std::memory_order_relaxed)));
}

void SetMaxCpuIsa(CpuIsa isa) { max_isa.store(static_cast<int>(isa), std::memory_order_relaxed); }

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2+fma";
    case CpuIsa::kBaseline:
      return "x86-64 baseline";
  }
  return "?";
}

}  // namespace hone::cpu
