#include "kernels/registry.h"

#include <algorithm>

namespace hone {

// Factory declarations for every kernel listed in the tables; each table's factories live in
// the namespace of its backend.
#define HONE_KERNEL(domain, op, since, until, backend, factory) std::unique_ptr<Kernel> factory();
namespace ref {
#include "kernels/ref/kernels.inc"
}  // namespace ref
namespace cpu {
#include "kernels/cpu/kernels.inc"
}  // namespace cpu
#undef HONE_KERNEL

const char* BackendName(Backend b) {
  switch (b) {
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
    case Backend::kReference:
      return "ref";
  }
  return "?";
}

KernelRegistry::KernelRegistry() {
#define HONE_KERNEL(domain, op, since, until, backend, factory) \
  defs_.push_back({domain, #op, since, until, Backend::backend, #factory, &ref::factory});
#include "kernels/ref/kernels.inc"
#undef HONE_KERNEL
#define HONE_KERNEL(domain, op, since, until, backend, factory) \
  defs_.push_back({domain, #op, since, until, Backend::backend, #factory, &cpu::factory});
#include "kernels/cpu/kernels.inc"
#undef HONE_KERNEL
  // Fast backends before the reference; the table order is kept within a backend.
  std::stable_sort(defs_.begin(), defs_.end(), [](const KernelDef& a, const KernelDef& b) {
    return static_cast<int>(a.backend) < static_cast<int>(b.backend);
  });
}

const KernelRegistry& KernelRegistry::Global() {
  static const KernelRegistry registry;
  return registry;
}

std::vector<const KernelDef*> KernelRegistry::Lookup(std::string_view domain, std::string_view op,
                                                     int64_t opset, bool fast_kernels) const {
  std::vector<const KernelDef*> out;
  for (const auto& d : defs_) {
    if (d.domain != domain || d.op != op) continue;
    if (opset < d.since || opset > d.until) continue;
    if (!fast_kernels && d.backend != Backend::kReference) continue;
    out.push_back(&d);
  }
  return out;
}

bool KernelRegistry::Knows(std::string_view domain, std::string_view op) const {
  return std::any_of(defs_.begin(), defs_.end(),
                     [&](const KernelDef& d) { return d.domain == domain && d.op == op; });
}

}  // namespace hone
