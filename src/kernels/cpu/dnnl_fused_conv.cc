// com.hone Conv: a 2-D float32 convolution on channel-blocked activations with fused post-ops,
// created by passes/layout_nchwc.cc. Inputs: X (blocked [N, Cb, H, W, B], or plain NCHW for a
// first layer with few channels), W, optional B, optional Sum (blocked, the output's shape; added
// before the activation, as a residual connection). Attributes: ONNX Conv's, plus `block` (B of
// the output; 0 = NHWC), `activation` ("" or Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid,
// HardSwish) and `activation_params` (LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta).
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_blocked.h"
#include "kernels/cpu/dnnl_conv.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::algorithm;
using dnnl::memory;

class FusedConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    Status s = p_.Parse(ctx);
    if (!s.ok()) return ctx.Invalid("{}", s.message());  // no other kernel serves this op
    block_ = ctx.attr_int("block", 16);
    if (BlockedTag(block_) == memory::format_tag::undef)
      return ctx.Invalid("block must be 8, 16 or 0 (NHWC), not {}", block_);
    has_sum_ = ctx.has_input(3);
    dnnl::post_ops po;
    if (has_sum_) po.append_sum(1.f);
    activation_ = ctx.attr_string("activation", "");
    const auto a = ctx.attr_floats("activation_params");
    auto need = [&](size_t n) -> Status {
      if (a.size() != n)
        return ctx.Invalid("activation {} takes {} parameter(s), got {}", activation_, n, a.size());
      return Status::Ok();
    };
    if (activation_.empty()) {
      HONE_RETURN_IF_ERROR(need(0));
    } else if (activation_ == "Relu") {
      HONE_RETURN_IF_ERROR(need(0));
      po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    } else if (activation_ == "LeakyRelu") {
      HONE_RETURN_IF_ERROR(need(1));
      po.append_eltwise(1.f, algorithm::eltwise_relu, a[0], 0.f);
    } else if (activation_ == "Clip") {
      HONE_RETURN_IF_ERROR(need(2));
      po.append_eltwise(1.f, algorithm::eltwise_clip, a[0], a[1]);
    } else if (activation_ == "Sigmoid") {
      HONE_RETURN_IF_ERROR(need(0));
      po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f);
    } else if (activation_ == "Tanh") {
      HONE_RETURN_IF_ERROR(need(0));
      po.append_eltwise(1.f, algorithm::eltwise_tanh, 0.f, 0.f);
    } else if (activation_ == "HardSigmoid") {  // max(0, min(1, alpha * x + beta))
      HONE_RETURN_IF_ERROR(need(2));
      po.append_eltwise(1.f, algorithm::eltwise_linear, a[0], a[1]);
      po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 1.f);
    } else if (activation_ == "HardSwish") {  // x * max(0, min(1, x / 6 + 1 / 2))
      HONE_RETURN_IF_ERROR(need(0));
      po.append_eltwise(1.f, algorithm::eltwise_hardswish, 0.f, 0.f);
    } else {
      return ctx.Invalid("unknown activation '{}'", activation_);
    }
    if (ctx.has_attr("post_linear")) {
      const auto l = ctx.attr_floats("post_linear");
      if (l.size() != 2)
        return ctx.Invalid("post_linear takes [alpha, beta], got {} values", l.size());
      po.append_eltwise(1.f, algorithm::eltwise_linear, l[0], l[1]);
    }
    attr_.set_post_ops(po);
    concat_output_ = ctx.attr_string("concat_output", "");
    concat_block_offset_ = ctx.attr_int("concat_block_offset", 0);
    concat_blocks_ = ctx.attr_int("concat_blocks", 0);
    if (!concat_output_.empty() &&
        (block_ == 0 || concat_block_offset_ < 0 || concat_blocks_ <= concat_block_offset_))
      return ctx.Invalid("bad concat_* attributes");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32)
      return ctx.Error("X is {}, not float32", DataTypeName(x.dtype()));
    const int64_t c = p_.in_channels();
    Shape nchw;
    memory::format_tag src_tag;
    if (x.rank() == 5 && BlockedFormat(x, c) != memory::format_tag::undef) {
      nchw = {x.dim(0), c, x.dim(2), x.dim(3)};
      // One block of 16 channels is both nChw16c and NHWC; say the one the output uses, so
      // oneDNN picks a kernel for matching layouts.
      src_tag = block_ == 0 && x.dim(1) == 1 ? memory::format_tag::nhwc : BlockedFormat(x, c);
    } else if (x.rank() == 4 && x.dim(1) == c) {
      nchw = x.shape();
      src_tag = memory::format_tag::nchw;
    } else {
      return ctx.Error("X {} is neither NCHW nor channel-blocked with {} channels",
                       ShapeToString(x.shape()), c);
    }
    // Before building: oneDNN fixes a primitive's thread count when it creates it.
    const Shape out = ConvOutputShape(p_, nchw);
    SetDnnlThreads(ctx.pool().parallelism(), out.empty() ? -1 : ConvFlops(p_, out));
    auto e = cache_.Get(x.shape(),
                        [&] { return BuildConv(p_, nchw, src_tag, BlockedTag(block_), attr_); });
    if (!e)
      return ctx.Error("oneDNN could not build this convolution for X {}",
                       ShapeToString(x.shape()));
    const Shape ys = BlockedShape(e->out_nchw, block_);
    const Tensor* z = has_sum_ ? ctx.input(3) : nullptr;
    const bool sum_in_place = z && concat_output_.empty() && ctx.InputDiesHere(3) &&
                              z->dtype() == DataType::kFloat32 && z->shape() == ys;
    if (sum_in_place) {
      // The residual is dead after this node: accumulate into its buffer (no copy).
      ctx.SetOutput(0, *z);
    } else if (!concat_output_.empty() && ys[0] == 1 &&
               concat_block_offset_ + ys[1] <= concat_blocks_) {
      // Write straight into our part of the Concat's output (passes/layout_nchwc.cc).
      const Shape full = {1, concat_blocks_, ys[2], ys[3], ys[4]};
      Tensor whole = ctx.SharedBuffer(concat_output_, DataType::kFloat32, full);
      const size_t offset =
          static_cast<size_t>(concat_block_offset_ * ys[2] * ys[3] * ys[4]) * sizeof(float);
      ctx.SetOutput(0, Tensor(DataType::kFloat32, ys, whole.buffer(), offset));
    } else {
      ctx.OutputUninitialized(0, DataType::kFloat32, ys);
    }
    Tensor& y = ctx.output(0);
    if (has_sum_ && !sum_in_place) {
      if (z->dtype() != DataType::kFloat32 || z->shape() != y.shape())
        return ctx.Error("Sum {} does not match the output {}", ShapeToString(z->shape()),
                         ShapeToString(y.shape()));
      std::memcpy(y.raw_data(), z->raw_data(), y.nbytes());
    }
    if (y.numel() == 0) return Status::Ok();
    e->call.Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  ConvParams p_;
  int64_t block_ = 16;
  bool has_sum_ = false;
  std::string activation_;
  dnnl::primitive_attr attr_;
  std::string concat_output_;  // set: the output lives inside this Concat output
  int64_t concat_block_offset_ = 0, concat_blocks_ = 0;
  ShapeCache<ConvPrim> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateFusedConv() { return std::make_unique<FusedConv>(); }

}  // namespace hone::cpu
