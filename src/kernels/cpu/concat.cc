// Fast Concat (ONNX Concat 4-22) for any fixed-size dtype: per outer index, each input
// contributes one contiguous run of bytes, so the output is a sequence of memcpy calls, split
// across threads by outer index. Strings and mismatched shapes decline to the reference kernel
// (which reports them).
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

class FastConcat final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (!ctx.has_attr("axis")) return Decline("no axis attribute");
    axis_ = ctx.attr_int("axis", 0);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const int n_in = ctx.num_inputs();
    const Tensor* first = ctx.input(0);
    if (n_in < 1 || !first || first->dtype() == DataType::kString ||
        DataTypeSize(first->dtype()) == 0)
      return Decline("string, 4-bit or missing inputs");
    const int64_t rank = first->rank();
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (rank == 0 || axis < 0 || axis >= rank) return Decline("axis out of range");
    Shape out_shape = first->shape();
    out_shape[static_cast<size_t>(axis)] = 0;
    for (int i = 0; i < n_in; ++i) {
      const Tensor* t = ctx.input(i);
      if (!t || t->dtype() != first->dtype() || t->rank() != rank) return Decline("mixed inputs");
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis && t->dim(d) != first->dim(d)) return Decline("shapes differ off the axis");
      out_shape[static_cast<size_t>(axis)] += t->dim(axis);
    }
    const size_t esize = DataTypeSize(first->dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out_shape[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= out_shape[static_cast<size_t>(d)];
    // Producers that wrote into this Concat's shared buffer (keyed by its output name) are done.
    ctx.ReleaseSharedBuffer(ctx.node().outputs[0]);
    if (outer == 1 && InPlace(ctx, n_in)) {
      // The producers wrote into one buffer, back to back (dnnl_fused_conv.cc): that is the
      // output already.
      const auto& buf = first->buffer();
      const size_t off = static_cast<size_t>(static_cast<const char*>(first->raw_data()) -
                                             static_cast<const char*>(buf->data()));
      ctx.SetOutput(0, Tensor(first->dtype(), out_shape, buf, off));
      return Status::Ok();
    }
    Tensor& y = ctx.OutputUninitialized(0, first->dtype(), out_shape);
    if (y.numel() == 0) return Status::Ok();
    const size_t out_row =
        static_cast<size_t>(out_shape[static_cast<size_t>(axis)] * inner) * esize;
    char* dst = static_cast<char*>(y.raw_data());
    const int64_t grain =
        std::max<int64_t>(1, (int64_t{1} << 16) / static_cast<int64_t>(out_row + 1));
    ctx.pool().ParallelFor(outer, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        size_t off = 0;
        for (int i = 0; i < n_in; ++i) {
          const Tensor* t = ctx.input(i);
          const size_t row = static_cast<size_t>(t->dim(axis) * inner) * esize;
          if (row)
            std::memcpy(dst + static_cast<size_t>(o) * out_row + off,
                        static_cast<const char*>(t->raw_data()) + static_cast<size_t>(o) * row,
                        row);
          off += row;
        }
      }
    });
    return Status::Ok();
  }

 private:
  // True when the inputs are consecutive parts of one buffer.
  static bool InPlace(const ComputeContext& ctx, int n_in) {
    const Tensor* first = ctx.input(0);
    if (!first->buffer()) return false;
    const char* next = static_cast<const char*>(first->raw_data());
    for (int i = 0; i < n_in; ++i) {
      const Tensor* t = ctx.input(i);
      if (t->buffer() != first->buffer() || static_cast<const char*>(t->raw_data()) != next)
        return false;
      next += t->nbytes();
    }
    return true;
  }

  int64_t axis_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuConcat() { return std::make_unique<FastConcat>(); }

}  // namespace hone::cpu
