// Fast 2-D Conv (ONNX Conv 1-22, float32) on oneDNN: weights prepacked once per input-shape
// signature into the layout oneDNN picks; activations stay in plain NCHW at the node's edges.
// Declines (the reference kernel serves) for non-constant weights, other ranks or dtypes.
// With graph optimisation "all", most convolutions become com.hone Conv (dnnl_fused_conv.cc)
// instead, which keeps activations channel-blocked between nodes.
#include "kernels/cpu/dnnl_conv.h"

#include <algorithm>
#include <chrono>

#include "core/thread_pool.h"

namespace hone::cpu {

using dnnl::memory;

Status ConvParams::Parse(const InitContext& ctx, DataType weights) {
  w = ctx.constant_input(1);
  if (!w) return Decline("weights are not a constant");
  if (w->dtype() != weights)
    return Decline(fmt::format("weights are not {}", DataTypeName(weights)));
  if (w->rank() != 4) return Decline("only 2-D convolutions");
  if (ctx.has_input(2)) {
    b = ctx.constant_input(2);
    if (!b) return Decline("bias is not a constant");
    if (b->dtype() != DataType::kFloat32 || b->numel() != w->dim(0))
      return Decline("bias is not float32 [M]");
  }
  group = ctx.attr_int("group", 1);
  if (group < 1 || w->dim(0) % group != 0) return Decline("bad group");
  auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  strides = ctx.attr_ints("strides", {1, 1});
  dilations = ctx.attr_ints("dilations", {1, 1});
  pads = ctx.attr_ints("pads", {0, 0, 0, 0});
  auto ks = ctx.attr_ints("kernel_shape", {w->dim(2), w->dim(3)});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4 || ks.size() != 2)
    return Decline("attribute lengths do not match 2-D");
  if (ks[0] != w->dim(2) || ks[1] != w->dim(3)) return Decline("kernel_shape differs from W");
  for (auto v : strides)
    if (v < 1) return Decline("bad strides");
  for (auto v : dilations)
    if (v < 1) return Decline("bad dilations");
  return Status::Ok();
}

bool ConvGeometry(const ConvParams& p, const Shape& xs, int64_t out[2], int64_t pl[2],
                  int64_t pr[2]) {
  for (int d = 0; d < 2; ++d) {
    const size_t k = static_cast<size_t>(d);
    pl[d] = p.pads[k];
    pr[d] = p.pads[k + 2];
    out[d] = OnnxSpatialOut(p.auto_pad, xs[2 + k], (p.w->dim(2 + d) - 1) * p.dilations[k] + 1,
                            p.strides[k], /*ceil=*/false, pl[d], pr[d]);
    if (out[d] <= 0) return false;
  }
  return true;
}

Shape ConvOutputShape(const ConvParams& p, const Shape& xs) {
  int64_t out[2], pl[2], pr[2];
  if (!ConvGeometry(p, xs, out, pl, pr)) return {};
  return {xs[0], p.out_channels(), out[0], out[1]};
}

std::shared_ptr<ConvPrim> BuildConv(const ConvParams& p, const Shape& xs,
                                    memory::format_tag src_tag, memory::format_tag dst_tag,
                                    const dnnl::primitive_attr& attr, const ConvTypes& types) {
  int64_t out[2], pl[2], pr[2];
  if (!ConvGeometry(p, xs, out, pl, pr)) return nullptr;
  auto e = std::make_shared<ConvPrim>();
  const int64_t m = p.out_channels(), kh = p.w->dim(2), kw = p.w->dim(3);
  e->out_nchw = {xs[0], m, out[0], out[1]};
  const auto f32 = memory::data_type::f32;
  memory::desc src(memory::dims(xs.begin(), xs.end()), types.src, src_tag);
  memory::desc dst(memory::dims(e->out_nchw.begin(), e->out_nchw.end()), types.dst, dst_tag);
  memory::dims wdims = p.group == 1 ? memory::dims{m, p.w->dim(1), kh, kw}
                                    : memory::dims{p.group, m / p.group, p.w->dim(1), kh, kw};
  memory::desc w_any(wdims, types.weights, memory::format_tag::any);
  memory::desc w_plain(wdims, types.weights,
                       p.group == 1 ? memory::format_tag::oihw : memory::format_tag::goihw);
  memory::desc b_md({m}, f32, memory::format_tag::a);
  try {
    const memory::dims strides{p.strides[0], p.strides[1]};
    const memory::dims dil{p.dilations[0] - 1, p.dilations[1] - 1};
    const memory::dims l{pl[0], pl[1]}, r{pr[0], pr[1]};
    auto d = p.b ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                   dnnl::algorithm::convolution_direct, src, w_any,
                                                   b_md, dst, strides, dil, l, r)
                 : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                   dnnl::algorithm::convolution_direct, src, w_any,
                                                   dst, strides, dil, l, r);
    dnnl::convolution_forward::primitive_desc pd(d, UserScratchpad(attr), Engine());
    e->prim = dnnl::convolution_forward(pd);
    e->src_md = pd.src_desc();
    e->dst_md = pd.dst_desc();
    e->impl = pd.impl_info_str();
    // Prepack the weights into the primitive's layout once.
    e->weights = memory(pd.weights_desc(), Engine());
    memory w_src(w_plain, Engine(), p.w->raw_data());
    dnnl::stream s(Engine());
    dnnl::reorder(w_src, e->weights).execute(s, w_src, e->weights);
    if (p.b) {
      e->bias = memory(b_md, Engine());
      std::copy_n(p.b->data<float>(), m, static_cast<float*>(e->bias.get_data_handle()));
    }
    s.wait();
    e->plain_edges = e->src_md == PlainDesc(xs) && e->dst_md == PlainDesc(e->out_nchw);
    e->call.set_primitive(e->prim);
    e->call.AddVarying(DNNL_ARG_SRC, e->src_md);
    e->call.AddVarying(DNNL_ARG_DST, e->dst_md);
    e->call.AddFixed(DNNL_ARG_WEIGHTS, e->weights);
    if (p.b) e->call.AddFixed(DNNL_ARG_BIAS, e->bias);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return e;
}

namespace {

class DnnlConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return p_.Parse(ctx); }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    // Anything unusual declines at run time; the reference kernel then serves (or reports) it.
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4) return Decline("X is not float32 NCHW");
    if (x.dim(1) != p_.in_channels()) return Decline("channel count mismatch");
    // Before building (oneDNN fixes a primitive's thread count then) and the timing runs.
    const Shape out = ConvOutputShape(p_, x.shape());
    SetDnnlThreads(ctx.pool().parallelism(), out.empty() ? -1 : ConvFlops(p_, out));
    auto entry = cache_.Get(x.shape(), [&] { return Choose(x.shape()); });
    if (!entry) return Decline("oneDNN could not build a convolution for this shape");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, entry->out_nchw);
    Execute(*entry, x, y);
    return Status::Ok();
  }

 private:
  void Execute(const ConvPrim& e, const Tensor& x, Tensor& y) const {
    if (e.plain_edges) {
      e.call.Execute({x.raw_data(), y.raw_data()});
      return;
    }
    const memory::desc plain_src = PlainDesc(x.shape()), plain_dst = PlainDesc(y.shape());
    dnnl::stream stream(Engine());
    memory src = Wrap(plain_src, x);
    memory dst = Wrap(plain_dst, y);
    // The primitive's own layouts (often channel-blocked); reorder at the node's edges.
    memory prim_src = src, prim_dst = dst;
    if (e.src_md != plain_src) {
      prim_src = memory(e.src_md, Engine());
      dnnl::reorder(src, prim_src).execute(stream, src, prim_src);
    }
    if (e.dst_md != plain_dst) prim_dst = memory(e.dst_md, Engine());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, prim_src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, prim_dst}};
    if (p_.b) args.emplace(DNNL_ARG_BIAS, e.bias);
    if (const memory::desc& pad = e.call.scratchpad_desc(); pad.get_size() > 0)
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(pad, Engine(), ThreadScratchpad(pad.get_size())));
    e.prim.execute(stream, args);
    if (e.dst_md != plain_dst) dnnl::reorder(prim_dst, dst).execute(stream, prim_dst, dst);
    stream.wait();
  }

  // oneDNN's preferred (blocked) layout plus reorders is usually fastest, but not always (small
  // images with large batches). The first time a shape is seen, both ways run twice on scratch
  // data and the faster one is kept for that shape.
  std::shared_ptr<const ConvPrim> Choose(const Shape& xs) const {
    std::shared_ptr<const ConvPrim> blocked =
        BuildConv(p_, xs, memory::format_tag::any, memory::format_tag::any);
    std::shared_ptr<const ConvPrim> plain =
        BuildConv(p_, xs, memory::format_tag::nchw, memory::format_tag::nchw);
    if (!blocked || !plain) return blocked ? blocked : plain;
    Tensor x = Tensor::Empty(DataType::kFloat32, xs);
    Tensor y = Tensor::Empty(DataType::kFloat32, blocked->out_nchw);
    auto time = [&](const ConvPrim& e) {
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

  ConvParams p_;
  ShapeCache<ConvPrim> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlConv() { return std::make_unique<DnnlConv>(); }

}  // namespace hone::cpu
