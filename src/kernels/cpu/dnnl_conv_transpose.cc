// Fast 2-D ConvTranspose (ONNX ConvTranspose 1-22, float32) on oneDNN's deconvolution: constant
// weights prepacked once per input shape, NCHW at the node's edges (oneDNN's preferred layout
// inside). Declines to the reference kernel for auto_pad, output_shape, output_padding beyond the
// end padding, non-constant weights, other ranks or dtypes. The common upsampling form (kernel
// equal to stride, no padding or dilation, one group: every output pixel comes from one input
// pixel) is a small matrix product per input row, computed directly: oneDNN's deconvolution is
// 10-50x slower for it (measured on PP-OCR det's 2x2 stride-2 heads).
#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;

class DnnlConvTranspose final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    w_ = ctx.constant_input(1);
    if (!w_) return Decline("weights are not a constant");
    if (w_->dtype() != DataType::kFloat32 || w_->rank() != 4) return Decline("not 2-D float32");
    group_ = ctx.attr_int("group", 1);
    if (group_ < 1 || w_->dim(0) % group_ != 0) return Decline("bad group");
    const int64_t m = w_->dim(1) * group_;
    if (ctx.has_input(2)) {
      b_ = ctx.constant_input(2);
      if (!b_ || b_->dtype() != DataType::kFloat32 || b_->numel() != m)
        return Decline("bias is not a constant float32 [M]");
    }
    if (ctx.attr_string("auto_pad", "NOTSET") != "NOTSET") return Decline("auto_pad");
    if (ctx.has_attr("output_shape")) return Decline("output_shape");
    strides_ = ctx.attr_ints("strides", {1, 1});
    dilations_ = ctx.attr_ints("dilations", {1, 1});
    pads_ = ctx.attr_ints("pads", {0, 0, 0, 0});
    auto op = ctx.attr_ints("output_padding", {0, 0});
    auto ks = ctx.attr_ints("kernel_shape", {w_->dim(2), w_->dim(3)});
    if (strides_.size() != 2 || dilations_.size() != 2 || pads_.size() != 4 || op.size() != 2 ||
        ks.size() != 2)
      return Decline("attribute lengths do not match 2-D");
    if (ks[0] != w_->dim(2) || ks[1] != w_->dim(3)) return Decline("kernel_shape differs from W");
    for (int d = 0; d < 2; ++d) {
      if (strides_[d] < 1 || dilations_[d] < 1 || pads_[d] < 0 || pads_[d + 2] < 0)
        return Decline("bad strides, dilations or pads");
      if (op[d] < 0 || op[d] > pads_[d + 2]) return Decline("output_padding beyond the end pad");
      pads_[d + 2] -= op[d];  // extra output at the end = less end padding
    }
    patch_ = group_ == 1 && strides_[0] == w_->dim(2) && strides_[1] == w_->dim(3) &&
             dilations_ == std::vector<int64_t>{1, 1} && pads_ == std::vector<int64_t>{0, 0, 0, 0};
    return Status::Ok();
  }

  // Y[n, m, ih*kh + a, iw*kw + b] = bias[m] + sum_c X[n, c, ih, iw] * W[c, m, a, b].
  Status ComputePatches(ComputeContext& ctx, const Tensor& x) const {
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
    const int64_t m = w_->dim(1), kh = w_->dim(2), kw = w_->dim(3), k = m * kh * kw;
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, {n, m, h * kh, wd * kw});
    if (y.numel() == 0) return Status::Ok();
    const float* xp = x.data<float>();
    const float* wp = w_->data<float>();
    float* yp = y.data<float>();
    const int64_t oh = h * kh, ow = wd * kw;
    ctx.pool().ParallelFor(n * h, 1, [&](int64_t begin, int64_t end) {
      // Scratch per thread, kept between runs (no allocation once it has grown).
      thread_local std::vector<float> acc;
      acc.resize(static_cast<size_t>(wd * k));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r / h, ih = r % h;
        std::fill(acc.begin(), acc.end(), 0.f);
        // acc[j][iw]: the inner loop runs over a row of pixels, so it vectorises for any k.
        for (int64_t ci = 0; ci < c; ++ci) {
          const float* xr = xp + ((b * c + ci) * h + ih) * wd;
          const float* wr = wp + ci * k;
          for (int64_t j = 0; j < k; ++j) {
            const float wv = wr[j];
            float* a = acc.data() + j * wd;
            for (int64_t iw = 0; iw < wd; ++iw) a[iw] += xr[iw] * wv;
          }
        }
        for (int64_t mi = 0; mi < m; ++mi) {
          const float bias = b_ ? b_->data<float>()[mi] : 0.f;
          for (int64_t a = 0; a < kh; ++a) {
            float* yr = yp + ((b * m + mi) * oh + ih * kh + a) * ow;
            for (int64_t bb = 0; bb < kw; ++bb) {
              const float* src = acc.data() + ((mi * kh + a) * kw + bb) * wd;
              for (int64_t iw = 0; iw < wd; ++iw) yr[iw * kw + bb] = src[iw] + bias;
            }
          }
        }
      }
    });
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4) return Decline("X is not float32 NCHW");
    if (x.dim(1) != w_->dim(0)) return Decline("channel count mismatch");
    if (patch_) return ComputePatches(ctx, x);
    SetDnnlThreads(ctx.pool().parallelism());
    auto e = cache_.Get(x.shape(), [&] { return Build(x.shape()); });
    if (!e) return Decline("oneDNN could not build this deconvolution");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, e->out_shape);
    if (y.numel() == 0) return Status::Ok();
    // The primitive's own layouts (often channel-blocked), reordered at the node's edges through
    // buffers of this node's run (planned like activations).
    const void* src = x.raw_data();
    void* dst = y.raw_data();
    Tensor blocked_src, blocked_dst;
    if (e->to_src) {
      blocked_src = ctx.Temporary(DataType::kUInt8, {static_cast<int64_t>(e->src_md.get_size())});
      e->to_src->Execute({x.raw_data(), blocked_src.raw_data()});
      src = blocked_src.raw_data();
    }
    if (e->from_dst) {
      blocked_dst = ctx.Temporary(DataType::kUInt8, {static_cast<int64_t>(e->dst_md.get_size())});
      dst = blocked_dst.raw_data();
    }
    e->call.Execute({src, dst});
    if (e->from_dst) e->from_dst->Execute({dst, y.raw_data()});
    return Status::Ok();
  }

 private:
  struct Entry {
    dnnl::deconvolution_forward prim;
    memory::desc src_md, dst_md;
    memory weights, bias;
    Shape out_shape;
    PrimitiveCall call;                               // prim with src, dst varying
    std::unique_ptr<PrimitiveCall> to_src, from_dst;  // reorders, when not plain NCHW
  };

  std::shared_ptr<const Entry> Build(const std::vector<int64_t>& xs) const {
    const int64_t kh = w_->dim(2), kw = w_->dim(3), m = w_->dim(1) * group_;
    int64_t out[2];
    for (int d = 0; d < 2; ++d) {
      const int64_t k = d == 0 ? kh : kw;
      out[d] =
          strides_[d] * (xs[2 + d] - 1) + (k - 1) * dilations_[d] + 1 - pads_[d] - pads_[d + 2];
      if (out[d] <= 0) return nullptr;
    }
    auto e = std::make_shared<Entry>();
    e->out_shape = {xs[0], m, out[0], out[1]};
    const auto f32 = memory::data_type::f32;
    memory::desc src(memory::dims(xs.begin(), xs.end()), f32, memory::format_tag::any);
    memory::desc dst(memory::dims(e->out_shape.begin(), e->out_shape.end()), f32,
                     memory::format_tag::any);
    const int64_t c = xs[1];
    memory::dims wdims = group_ == 1 ? memory::dims{m, c, kh, kw}
                                     : memory::dims{group_, m / group_, c / group_, kh, kw};
    memory::desc w_any(wdims, f32, memory::format_tag::any);
    // ONNX stores W as [C, M/group, kH, kW]: input channels outermost.
    memory::desc w_plain(wdims, f32,
                         group_ == 1 ? memory::format_tag::iohw : memory::format_tag::giohw);
    memory::desc b_md({m}, f32, memory::format_tag::a);
    try {
      const memory::dims st{strides_[0], strides_[1]}, dil{dilations_[0] - 1, dilations_[1] - 1};
      const memory::dims l{pads_[0], pads_[1]}, r{pads_[2], pads_[3]};
      auto d = b_ ? dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::deconvolution_direct, src,
                                                      w_any, b_md, dst, st, dil, l, r)
                  : dnnl::deconvolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::deconvolution_direct, src,
                                                      w_any, dst, st, dil, l, r);
      dnnl::deconvolution_forward::primitive_desc pd(d, UserScratchpad(), Engine());
      e->prim = dnnl::deconvolution_forward(pd);
      e->src_md = pd.src_desc();
      e->dst_md = pd.dst_desc();
      e->weights = memory(pd.weights_desc(), Engine());
      memory w_src(w_plain, Engine(), w_->raw_data());
      dnnl::stream s(Engine());
      dnnl::reorder(w_src, e->weights).execute(s, w_src, e->weights);
      if (b_) {
        e->bias = memory(b_md, Engine());
        std::copy_n(b_->data<float>(), m, static_cast<float*>(e->bias.get_data_handle()));
      }
      s.wait();
      e->call.set_primitive(e->prim);
      e->call.AddVarying(DNNL_ARG_SRC, e->src_md);
      e->call.AddVarying(DNNL_ARG_DST, e->dst_md);
      e->call.AddFixed(DNNL_ARG_WEIGHTS, e->weights);
      if (b_) e->call.AddFixed(DNNL_ARG_BIAS, e->bias);
      const memory::desc plain_src = PlainDesc(Shape(xs)), plain_dst = PlainDesc(e->out_shape);
      if (e->src_md != plain_src) e->to_src = MakeReorder(plain_src, e->src_md);
      if (e->dst_md != plain_dst) e->from_dst = MakeReorder(e->dst_md, plain_dst);
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return e;
  }

  const Tensor* w_ = nullptr;  // owned by the model's initializers, alive as long as the session
  const Tensor* b_ = nullptr;
  int64_t group_ = 1;
  std::vector<int64_t> strides_, dilations_, pads_;
  bool patch_ = false;  // kernel == stride, no padding: see ComputePatches
  ShapeCache<Entry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlConvTranspose() { return std::make_unique<DnnlConvTranspose>(); }

}  // namespace hone::cpu
