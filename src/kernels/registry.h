// Kernel registry: (domain, op, opset range, backend) -> ordered implementations.
// The tables are explicit lists (kernels/ref/kernels.inc, kernels/cpu/kernels.inc): one line per
// implementation, grep-able, immune to static-initialisation order. Lookup returns the fast
// backends first and the reference last; the session takes the first whose Init accepts.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/kernel.h"

namespace hone {

enum class Backend { kCpu, kCuda, kReference };
const char* BackendName(Backend b);

struct KernelDef {
  std::string_view domain;  // "" = ai.onnx
  std::string_view op;
  int since;  // first opset version served
  int until;  // last opset version served
  Backend backend;
  std::string_view name;  // e.g. "ref.Conv", "dnnl.Conv"
  std::unique_ptr<Kernel> (*create)();
};

class KernelRegistry {
 public:
  static const KernelRegistry& Global();
  // Implementations for (domain, op) at `opset`, most specialised first, reference last.
  std::vector<const KernelDef*> Lookup(std::string_view domain, std::string_view op, int64_t opset,
                                       bool fast_kernels) const;
  // True when some implementation exists for (domain, op) at any opset.
  bool Knows(std::string_view domain, std::string_view op) const;
  const std::vector<KernelDef>& all() const { return defs_; }

 private:
  KernelRegistry();
  std::vector<KernelDef> defs_;
};

}  // namespace hone
