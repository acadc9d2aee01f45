// com.hone ReorderInput (NCHW -> channel-blocked, padding channels zeroed; attribute `block`)
// and ReorderOutput (channel-blocked -> NCHW; attribute `channels`): the edges of a region of
// blocked activations that passes/layout_nchwc.cc creates.
#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_blocked.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {

dnnl::memory::format_tag BlockedTag(int64_t block) {
  if (block == 16) return dnnl::memory::format_tag::nChw16c;
  if (block == 8) return dnnl::memory::format_tag::nChw8c;
  if (block == 0) return dnnl::memory::format_tag::nhwc;
  return dnnl::memory::format_tag::undef;
}

Shape BlockedShape(const Shape& nchw, int64_t block) {
  if (block == 0) return {nchw[0], 1, nchw[2], nchw[3], nchw[1]};
  return {nchw[0], (nchw[1] + block - 1) / block, nchw[2], nchw[3], block};
}

dnnl::memory::format_tag BlockedFormat(const Tensor& t, int64_t channels) {
  if (t.rank() != 5) return dnnl::memory::format_tag::undef;
  const int64_t cb = t.dim(1), b = t.dim(4);
  if (channels == 0) channels = cb * b;
  if ((b == 8 || b == 16) && channels > 0 && (channels + b - 1) / b == cb) return BlockedTag(b);
  if (cb == 1 && b == channels && channels > 0) return dnnl::memory::format_tag::nhwc;
  return dnnl::memory::format_tag::undef;
}

dnnl::memory::desc BlockedDesc(const Tensor& t, int64_t channels) {
  const auto tag = BlockedFormat(t, channels);
  if (tag == dnnl::memory::format_tag::undef) return {};
  if (channels == 0) channels = t.dim(1) * t.dim(4);
  return dnnl::memory::desc({t.dim(0), channels, t.dim(2), t.dim(3)}, dnnl::memory::data_type::f32,
                            tag);
}

namespace {

using dnnl::memory;

class ReorderInput final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    block_ = ctx.attr_int("block", 16);
    if (BlockedTag(block_) == memory::format_tag::undef)
      return ctx.Invalid("block must be 8, 16 or 0 (NHWC), not {}", block_);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4)
      return ctx.Error("expects a float32 NCHW tensor, got {} {}", DataTypeName(x.dtype()),
                       ShapeToString(x.shape()));
    // Zeroed, so the padding channels are zero.
    Tensor& y = ctx.Output(0, DataType::kFloat32, BlockedShape(x.shape(), block_));
    if (x.numel() == 0) return Status::Ok();
    SetDnnlThreads(ctx.pool().parallelism(), static_cast<double>(x.numel()) * 4);
    auto call = cache_.Get(x.shape(), [&] {
      return std::shared_ptr<const PrimitiveCall>(
          MakeReorder(PlainDesc(x.shape()), BlockedDesc(y, x.dim(1))));
    });
    call->Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  int64_t block_ = 16;
  ShapeCache<PrimitiveCall> cache_;
};

class ReorderOutput final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    channels_ = ctx.attr_int("channels", 0);
    if (channels_ <= 0) return ctx.Invalid("needs a positive 'channels' attribute");
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32 || BlockedFormat(x, channels_) == memory::format_tag::undef)
      return ctx.Error("expects a float32 blocked tensor with {} channels, got {} {}", channels_,
                       DataTypeName(x.dtype()), ShapeToString(x.shape()));
    Tensor& y =
        ctx.OutputUninitialized(0, DataType::kFloat32, {x.dim(0), channels_, x.dim(2), x.dim(3)});
    if (y.numel() == 0) return Status::Ok();
    SetDnnlThreads(ctx.pool().parallelism(), static_cast<double>(x.numel()) * 4);
    auto call = cache_.Get(x.shape(), [&] {
      return std::shared_ptr<const PrimitiveCall>(
          MakeReorder(BlockedDesc(x, channels_), PlainDesc(y.shape())));
    });
    call->Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  int64_t channels_ = 0;
  ShapeCache<PrimitiveCall> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateReorderInput() { return std::make_unique<ReorderInput>(); }
std::unique_ptr<Kernel> CreateReorderOutput() { return std::make_unique<ReorderOutput>(); }

}  // namespace hone::cpu
