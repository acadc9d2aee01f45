// Fast 2-D MaxPool (ONNX MaxPool 1-22, without the Indices output) and AveragePool (ONNX
// AveragePool 1-22) on oneDNN, float32, NCHW at the node's edges. ceil_mode is expressed as extra
// right padding; dilations other than 1 and the Indices output decline to the reference kernel.
// The com.hone registrations of MaxPool, AveragePool, GlobalMaxPool and GlobalAveragePool take and
// give channel-blocked tensors ([N, Cb, H, W, B], see dnnl_blocked.h); padding channels are
// pooled like the others. com.hone MaxPool also pools uint8 channels-last tensors ([N, 1, H, W, C],
// the int8 region of passes/fuse_qdq.cc: max commutes with a per-tensor dequantization).
#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_blocked.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;

template <bool kMax>
class DnnlPool final : public Kernel {
 public:
  DnnlPool(bool global, bool blocked) : global_(global), blocked_(blocked) {}

  Status Init(const InitContext& ctx) override {
    if (kMax && ctx.num_outputs() > 1 && !ctx.node().outputs[1].empty())
      return Decline("the Indices output is not served");
    if (global_) {
      kernel_ = {1, 1};  // the input's spatial size, known at run time
      return Status::Ok();
    }
    kernel_ = ctx.attr_ints("kernel_shape");
    if (kernel_.size() != 2) return Decline("only 2-D pooling");
    strides_ = ctx.attr_ints("strides", {1, 1});
    pads_ = ctx.attr_ints("pads", {0, 0, 0, 0});
    auto dil = ctx.attr_ints("dilations", {1, 1});
    if (strides_.size() != 2 || pads_.size() != 4 || dil != std::vector<int64_t>{1, 1})
      return Decline("dilations or attribute lengths");
    for (auto v : kernel_)
      if (v < 1) return Decline("bad kernel_shape");
    for (auto v : strides_)
      if (v < 1) return Decline("bad strides");
    auto_pad_ = ctx.attr_string("auto_pad", "NOTSET");
    ceil_ = ctx.attr_int("ceil_mode", 0) != 0;
    include_pad_ = ctx.attr_int("count_include_pad", 0) != 0;
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const bool u8 =
        kMax && blocked_ && x.dtype() == DataType::kUInt8 && x.rank() == 5 && x.dim(1) == 1;
    if (blocked_) {
      if ((x.dtype() != DataType::kFloat32 && !u8) ||
          BlockedFormat(x, 0) == memory::format_tag::undef)
        return ctx.Error("expects a float32 channel-blocked tensor, got {} {}",
                         DataTypeName(x.dtype()), ShapeToString(x.shape()));
    } else if (x.dtype() != DataType::kFloat32 || x.rank() != 4) {
      return Decline("X is not float32 NCHW");
    }
    SetDnnlThreads(ctx.pool().parallelism(), static_cast<double>(x.numel()) * 4);
    auto e = cache_.Get(x.shape(), [&] { return Build(x.shape(), x.dtype()); });
    if (!e) {
      if (blocked_)
        return ctx.Error(
            "the {}x{} pooling window does not fit the {}x{} input (with its padding), or oneDNN "
            "cannot pool it",
            kernel_[0], kernel_[1], x.dim(2), x.dim(3));
      return Decline("oneDNN could not build this pooling");
    }
    if (e->dtype != x.dtype()) return ctx.Error("input type changed between runs");
    Tensor& y = ctx.OutputUninitialized(0, x.dtype(), e->out_shape);
    if (y.numel() == 0) return Status::Ok();
    e->call.Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  struct Entry {
    dnnl::pooling_forward prim;
    memory::desc src_md, dst_md;
    Shape out_shape;
    DataType dtype = DataType::kFloat32;
    PrimitiveCall call;  // prim with src, dst varying
  };

  std::shared_ptr<const Entry> Build(const Shape& xs, DataType dtype) const {
    std::vector<int64_t> kernel = kernel_;
    if (global_) kernel = {xs[2], xs[3]};
    if (kernel[0] < 1 || kernel[1] < 1) return nullptr;
    int64_t pl[2] = {pads_[0], pads_[1]}, pr[2] = {pads_[2], pads_[3]}, out[2];
    for (int d = 0; d < 2; ++d) {
      const int64_t in = xs[static_cast<size_t>(2 + d)], k = kernel[static_cast<size_t>(d)],
                    s = strides_[static_cast<size_t>(d)];
      out[d] = OnnxSpatialOut(auto_pad_, in, k, s, ceil_, pl[d], pr[d]);
      if (out[d] <= 0) return nullptr;
      // The right padding the last window needs (more expresses ceil_mode). Floor mode can leave
      // it negative (the last window stops short of the end): any value up to s - 1 above gives
      // the same output size, and 0 is one of them.
      pr[d] = std::max<int64_t>(0, (out[d] - 1) * s + k - in - pl[d]);
      if (out[d] <= 0 || pr[d] < 0 || pl[d] >= k || pr[d] >= k) return nullptr;
    }
    auto e = std::make_shared<Entry>();
    e->dtype = dtype;
    if (blocked_) {
      // Padding channels are pooled too: the descriptor covers all Cb * B channels.
      const int64_t c = xs[1] * xs[4];
      const auto tag = (xs[4] == 8 || xs[4] == 16) ? BlockedTag(xs[4]) : memory::format_tag::nhwc;
      const auto dt = dtype == DataType::kUInt8 ? memory::data_type::u8 : memory::data_type::f32;
      e->out_shape = {xs[0], xs[1], out[0], out[1], xs[4]};
      e->src_md = memory::desc({xs[0], c, xs[2], xs[3]}, dt, tag);
      e->dst_md = memory::desc({xs[0], c, out[0], out[1]}, dt, tag);
    } else {
      e->out_shape = {xs[0], xs[1], out[0], out[1]};
      e->src_md = PlainDesc(xs);
      e->dst_md = PlainDesc(e->out_shape);
    }
    const auto alg = kMax ? dnnl::algorithm::pooling_max
                          : (include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                          : dnnl::algorithm::pooling_avg_exclude_padding);
    try {
      dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, e->src_md, e->dst_md,
                                    {strides_[0], strides_[1]}, {kernel[0], kernel[1]},
                                    {pl[0], pl[1]}, {pr[0], pr[1]});
      e->prim = dnnl::pooling_forward(
          dnnl::pooling_forward::primitive_desc(d, UserScratchpad(), Engine()));
      e->call.set_primitive(e->prim);
      e->call.AddVarying(DNNL_ARG_SRC, e->src_md);
      e->call.AddVarying(DNNL_ARG_DST, e->dst_md);
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return e;
  }

  const bool global_, blocked_;
  std::vector<int64_t> kernel_, strides_ = {1, 1}, pads_ = {0, 0, 0, 0};
  std::string auto_pad_ = "NOTSET";
  bool ceil_ = false, include_pad_ = false;
  ShapeCache<Entry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlMaxPool() {
  return std::make_unique<DnnlPool<true>>(false, false);
}
std::unique_ptr<Kernel> CreateDnnlAveragePool() {
  return std::make_unique<DnnlPool<false>>(false, false);
}
std::unique_ptr<Kernel> CreateBlockedMaxPool() {
  return std::make_unique<DnnlPool<true>>(false, true);
}
std::unique_ptr<Kernel> CreateBlockedAveragePool() {
  return std::make_unique<DnnlPool<false>>(false, true);
}
std::unique_ptr<Kernel> CreateBlockedGlobalMaxPool() {
  return std::make_unique<DnnlPool<true>>(true, true);
}
std::unique_ptr<Kernel> CreateBlockedGlobalAveragePool() {
  return std::make_unique<DnnlPool<false>>(true, true);
}

}  // namespace hone::cpu
