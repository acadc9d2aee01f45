// Fast 2-D MaxPool (ONNX MaxPool 1-22, without the Indices output) and AveragePool (ONNX
// AveragePool 1-22) on oneDNN, float32, NCHW at the node's edges. ceil_mode is expressed as extra
// right padding; dilations other than 1 and the Indices output decline to the reference kernel.
#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;

template <bool kMax>
class DnnlPool final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (kMax && ctx.num_outputs() > 1 && !ctx.node().outputs[1].empty())
      return Decline("the Indices output is not served");
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
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4) return Decline("X is not float32 NCHW");
    auto e = cache_.Get(x.shape(), [&] { return Build(x.shape()); });
    if (!e) return Decline("oneDNN could not build this pooling");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, e->out_shape);
    SetDnnlThreads(ctx.pool().parallelism());
    dnnl::stream stream(Engine());
    e->prim.execute(stream,
                    {{DNNL_ARG_SRC, Wrap(e->src_md, x)}, {DNNL_ARG_DST, Wrap(e->dst_md, y)}});
    stream.wait();
    return Status::Ok();
  }

 private:
  struct Entry {
    dnnl::pooling_forward prim;
    memory::desc src_md, dst_md;
    std::vector<int64_t> out_shape;
  };

  std::shared_ptr<const Entry> Build(const std::vector<int64_t>& xs) const {
    int64_t pl[2] = {pads_[0], pads_[1]}, pr[2] = {pads_[2], pads_[3]}, out[2];
    for (int d = 0; d < 2; ++d) {
      const int64_t in = xs[static_cast<size_t>(2 + d)], k = kernel_[static_cast<size_t>(d)],
                    s = strides_[static_cast<size_t>(d)];
      out[d] = OnnxSpatialOut(auto_pad_, in, k, s, ceil_, pl[d], pr[d]);
      if (out[d] <= 0) return nullptr;
      pr[d] = (out[d] - 1) * s + k - in - pl[d];  // extra right padding expresses ceil_mode
      if (out[d] <= 0 || pr[d] < 0 || pl[d] >= k || pr[d] >= k) return nullptr;
    }
    auto e = std::make_shared<Entry>();
    e->out_shape = {xs[0], xs[1], out[0], out[1]};
    e->src_md = PlainDesc(xs);
    e->dst_md = PlainDesc(e->out_shape);
    const auto alg = kMax ? dnnl::algorithm::pooling_max
                          : (include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                          : dnnl::algorithm::pooling_avg_exclude_padding);
    try {
      dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, e->src_md, e->dst_md,
                                    {strides_[0], strides_[1]}, {kernel_[0], kernel_[1]},
                                    {pl[0], pl[1]}, {pr[0], pr[1]});
      e->prim = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(d, Engine()));
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return e;
  }

  std::vector<int64_t> kernel_, strides_, pads_;
  std::string auto_pad_;
  bool ceil_ = false, include_pad_ = false;
  ShapeCache<Entry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlMaxPool() { return std::make_unique<DnnlPool<true>>(); }
std::unique_ptr<Kernel> CreateDnnlAveragePool() { return std::make_unique<DnnlPool<false>>(); }

}  // namespace hone::cpu
