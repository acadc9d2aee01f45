// Fast 2-D Conv (ONNX Conv 1-22, float32) on oneDNN: weights prepacked once per input-shape
// signature into the layout oneDNN picks; activations stay in plain NCHW at the node's edges.
// Declines (the reference kernel serves) for non-constant weights, other ranks or dtypes.
#include <algorithm>
#include <chrono>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;

class DnnlConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    w_ = ctx.constant_input(1);
    if (!w_) return Decline("weights are not a constant");
    if (w_->dtype() != DataType::kFloat32) return Decline("weights are not float32");
    if (w_->rank() != 4) return Decline("only 2-D convolutions");
    if (ctx.has_input(2)) {
      b_ = ctx.constant_input(2);
      if (!b_) return Decline("bias is not a constant");
      if (b_->dtype() != DataType::kFloat32 || b_->numel() != w_->dim(0))
        return Decline("bias is not float32 [M]");
    }
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || w_->dim(0) % group_ != 0) return Decline("bad group");
    auto_pad_ = ctx.attr_string("auto_pad", "NOTSET");
    strides_ = ctx.attr_ints("strides", {1, 1});
    dilations_ = ctx.attr_ints("dilations", {1, 1});
    pads_ = ctx.attr_ints("pads", {0, 0, 0, 0});
    auto ks = ctx.attr_ints("kernel_shape", {w_->dim(2), w_->dim(3)});
    if (strides_.size() != 2 || dilations_.size() != 2 || pads_.size() != 4 || ks.size() != 2)
      return Decline("attribute lengths do not match 2-D");
    if (ks[0] != w_->dim(2) || ks[1] != w_->dim(3)) return Decline("kernel_shape differs from W");
    for (auto v : strides_)
      if (v < 1) return Decline("bad strides");
    for (auto v : dilations_)
      if (v < 1) return Decline("bad dilations");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    // Anything unusual declines at run time; the reference kernel then serves (or reports) it.
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4) return Decline("X is not float32 NCHW");
    if (x.dim(1) != w_->dim(1) * group_) return Decline("channel count mismatch");
    SetDnnlThreads(ctx.pool().parallelism());  // also for the timing runs in Choose
    auto entry = cache_.Get(x.shape(), [&] { return Choose(x.shape()); });
    if (!entry) return Decline("oneDNN could not build a convolution for this shape");
    Tensor& y = ctx.Output(0, DataType::kFloat32, entry->out_shape);
    Execute(*entry, x, y);
    return Status::Ok();
  }

 private:
  struct Entry {
    dnnl::convolution_forward prim;
    memory::desc src_md, dst_md;              // the primitive's layouts
    memory::desc plain_src_md, plain_dst_md;  // NCHW, as hone's tensors are
    memory weights, bias;
    std::vector<int64_t> out_shape;
  };

  void Execute(const Entry& e, const Tensor& x, Tensor& y) const {
    dnnl::stream stream(Engine());
    memory src = Wrap(e.plain_src_md, x);
    memory dst = Wrap(e.plain_dst_md, y);
    // The primitive's own layouts (often channel-blocked); reorder at the node's edges.
    memory prim_src = src, prim_dst = dst;
    if (e.src_md != e.plain_src_md) {
      prim_src = memory(e.src_md, Engine());
      dnnl::reorder(src, prim_src).execute(stream, src, prim_src);
    }
    if (e.dst_md != e.plain_dst_md) prim_dst = memory(e.dst_md, Engine());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, prim_src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, prim_dst}};
    if (b_) args.emplace(DNNL_ARG_BIAS, e.bias);
    e.prim.execute(stream, args);
    if (e.dst_md != e.plain_dst_md) dnnl::reorder(prim_dst, dst).execute(stream, prim_dst, dst);
    stream.wait();
  }

  // oneDNN's preferred (blocked) layout plus reorders is usually fastest, but not always (small
  // images with large batches). The first time a shape is seen, both ways run twice on scratch
  // data and the faster one is kept for that shape.
  std::shared_ptr<const Entry> Choose(const std::vector<int64_t>& xs) const {
    auto blocked = Build(xs, /*plain=*/false);
    auto plain = Build(xs, /*plain=*/true);
    if (!blocked || !plain) return blocked ? blocked : plain;
    Tensor x = Tensor::Empty(DataType::kFloat32, xs);
    Tensor y = Tensor::Empty(DataType::kFloat32, blocked->out_shape);
    auto time = [&](const Entry& e) {
      double best = 1e30;
      for (int i = 0; i < 2; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        Execute(e, x, y);
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      return best;
    };
    return time(*plain) < time(*blocked) ? plain : blocked;
  }

  std::shared_ptr<const Entry> Build(const std::vector<int64_t>& xs, bool plain) const {
    const int64_t kh = w_->dim(2), kw = w_->dim(3);
    int64_t pt = pads_[0], pl = pads_[1], pb = pads_[2], pr = pads_[3];
    const int64_t oh = OnnxSpatialOut(auto_pad_, xs[2], (kh - 1) * dilations_[0] + 1, strides_[0],
                                      /*ceil=*/false, pt, pb);
    const int64_t ow = OnnxSpatialOut(auto_pad_, xs[3], (kw - 1) * dilations_[1] + 1, strides_[1],
                                      /*ceil=*/false, pl, pr);
    if (oh <= 0 || ow <= 0) return nullptr;
    auto e = std::make_shared<Entry>();
    const int64_t m = w_->dim(0);
    e->out_shape = {xs[0], m, oh, ow};
    e->plain_src_md = PlainDesc(xs);
    e->plain_dst_md = PlainDesc(e->out_shape);
    auto src_any = plain ? e->plain_src_md
                         : memory::desc(memory::dims(xs.begin(), xs.end()), memory::data_type::f32,
                                        memory::format_tag::any);
    auto dst_any = plain ? e->plain_dst_md
                         : memory::desc(memory::dims(e->out_shape.begin(), e->out_shape.end()),
                                        memory::data_type::f32, memory::format_tag::any);
    memory::dims wdims = group_ == 1 ? memory::dims{m, w_->dim(1), kh, kw}
                                     : memory::dims{group_, m / group_, w_->dim(1), kh, kw};
    auto w_any = memory::desc(wdims, memory::data_type::f32, memory::format_tag::any);
    auto w_plain = memory::desc(wdims, memory::data_type::f32,
                                group_ == 1 ? memory::format_tag::oihw : memory::format_tag::goihw);
    auto b_md = memory::desc({m}, memory::data_type::f32, memory::format_tag::a);
    try {
      dnnl::convolution_forward::desc d =
          b_ ? dnnl::convolution_forward::desc(
                   dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                   w_any, b_md, dst_any, {strides_[0], strides_[1]},
                   {dilations_[0] - 1, dilations_[1] - 1}, {pt, pl}, {pb, pr})
             : dnnl::convolution_forward::desc(
                   dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                   w_any, dst_any, {strides_[0], strides_[1]},
                   {dilations_[0] - 1, dilations_[1] - 1}, {pt, pl}, {pb, pr});
      dnnl::convolution_forward::primitive_desc pd(d, Engine());
      e->prim = dnnl::convolution_forward(pd);
      e->src_md = pd.src_desc();
      e->dst_md = pd.dst_desc();
      // Prepack the weights into the primitive's layout once.
      e->weights = memory(pd.weights_desc(), Engine());
      memory w_src(w_plain, Engine(), w_->raw_data());
      dnnl::stream s(Engine());
      dnnl::reorder(w_src, e->weights).execute(s, w_src, e->weights);
      if (b_) {
        e->bias = memory(b_md, Engine());
        std::copy_n(b_->data<float>(), m, static_cast<float*>(e->bias.get_data_handle()));
      }
      s.wait();
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return e;
  }

  const Tensor* w_ = nullptr;  // owned by the model's initializers, alive as long as the session
  const Tensor* b_ = nullptr;
  int64_t group_ = 1;
  std::string auto_pad_;
  std::vector<int64_t> strides_, dilations_, pads_;
  ShapeCache<Entry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlConv() { return std::make_unique<DnnlConv>(); }

}  // namespace hone::cpu
