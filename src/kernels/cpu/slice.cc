// Fast Slice (ONNX Slice 1-22) for fixed-size dtypes with unit steps: the window (resolved by
// ref/slice.h, the reference kernel's rules) is a box, copied as contiguous runs with memcpy,
// rows split across threads; a box that is one contiguous run of the input becomes a view (no
// copy). Other steps decline to the reference kernel.
#include "kernels/ref/slice.h"

#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

class FastSlice final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return spec_.Init(ctx); }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const size_t esize = DataTypeSize(x.dtype());
    if (x.dtype() == DataType::kString || esize == 0) return Decline("string or 4-bit data");
    HONE_ASSIGN_OR_RETURN(ref::SliceWindow w, spec_.Resolve(ctx, x));
    const int64_t rank = x.rank();
    for (int64_t d = 0; d < rank; ++d)
      if (w.step[static_cast<size_t>(d)] != 1) return Decline("steps other than 1");
    // Innermost axes taken whole merge into one contiguous run.
    int64_t inner = 1, k = rank;
    while (k > 0 && w.out_shape[static_cast<size_t>(k - 1)] == x.dim(k - 1)) inner *= x.dim(--k);
    // Axis k-1 (if any) is the innermost cut one: each run is out_shape[k-1] * inner elements.
    const int64_t run = k > 0 ? w.out_shape[static_cast<size_t>(k - 1)] * inner : inner;
    int64_t rows = 1;  // runs to copy: the product of the output dims before k-1
    for (int64_t d = 0; d + 1 < k; ++d) rows *= w.out_shape[static_cast<size_t>(d)];
    Shape stride(static_cast<size_t>(rank), 1);
    for (int64_t d = rank - 2; d >= 0; --d)
      stride[static_cast<size_t>(d)] = stride[static_cast<size_t>(d) + 1] * x.dim(d + 1);
    int64_t base = 0;
    for (int64_t d = 0; d < rank; ++d)
      base += w.start[static_cast<size_t>(d)] * stride[static_cast<size_t>(d)];
    if (rows == 1 && x.buffer()) {
      const size_t off = static_cast<size_t>(static_cast<const char*>(x.raw_data()) -
                                             static_cast<const char*>(x.buffer()->data()));
      ctx.SetOutput(
          0, Tensor(x.dtype(), w.out_shape, x.buffer(), off + static_cast<size_t>(base) * esize));
      return Status::Ok();
    }
    Tensor& y = ctx.OutputUninitialized(0, x.dtype(), w.out_shape);
    if (y.numel() == 0) return Status::Ok();
    const char* src = static_cast<const char*>(x.raw_data());
    char* dst = static_cast<char*>(y.raw_data());
    const size_t run_bytes = static_cast<size_t>(run) * esize;
    const int64_t outer_axes = k - 1;  // axes 0 .. k-2 enumerate the runs
    const int64_t grain =
        std::max<int64_t>(1, (int64_t{1} << 15) / static_cast<int64_t>(run_bytes + 1));
    ctx.pool().ParallelFor(rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t rem = r, offset = base;
        for (int64_t d = outer_axes - 1; d >= 0; --d) {
          const int64_t n = w.out_shape[static_cast<size_t>(d)];
          offset += (rem % n) * stride[static_cast<size_t>(d)];
          rem /= n;
        }
        std::memcpy(dst + static_cast<size_t>(r) * run_bytes,
                    src + static_cast<size_t>(offset) * esize, run_bytes);
      }
    });
    return Status::Ok();
  }

 private:
  ref::SliceSpec spec_;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuSlice() { return std::make_unique<FastSlice>(); }

}  // namespace hone::cpu
