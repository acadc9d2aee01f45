// hone's int8 ops, made by passes/fuse_qdq.cc from QDQ groups (uint8 activations, per tensor;
// int8 weights with zero point 0, per tensor or per output channel):
//   com.hone QuantizeLinear    float32 NCHW -> uint8 channels-last [N, 1, H, W, C]
//   com.hone DequantizeLinear  uint8 channels-last -> float32 NCHW
//   com.hone QConv             uint8 channels-last -> uint8 channels-last (oneDNN, VNNI)
//   com.hone QAdd              uint8 + uint8 -> uint8, same shapes (any layout)
//   com.hone QMatMul           uint8 [..., K] x int8 [K, N] -> uint8 [..., N] (oneDNN)
// and the plain per-tensor float32 <-> uint8 ai.onnx QuantizeLinear / DequantizeLinear.
// Attributes carry the quantization: x_scale, x_zero_point, w_scales, y_scale, y_zero_point, an
// optional activation ("Relu", or "Clip" with clip_max) applied in real units before the output
// is quantized; a bias input is in accumulator units (bias / (x_scale * w_scale)).
//
// oneDNN 2.6 computes dst = saturate(round(post_ops(output_scale * (acc + bias))) + dst_zp) with
// acc the int32 sum of (src - src_zp) * w, and output_scale = x_scale * w_scale / y_scale; the
// activation then acts on real / y_scale, so Clip's upper bound is clip_max / y_scale.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/cpu/dnnl_conv.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;
constexpr auto kU8 = memory::data_type::u8;
constexpr auto kS8 = memory::data_type::s8;
constexpr auto kF32 = memory::data_type::f32;
constexpr auto kS32 = memory::data_type::s32;

struct QuantAttrs {
  float x_scale = 1, y_scale = 1;
  int x_zero_point = 0, y_zero_point = 0;
  std::vector<float> w_scales;
  std::string activation;
  float clip_max = 0;

  Status Parse(const InitContext& ctx, int64_t n_out) {
    x_scale = ctx.attr_float("x_scale", 0);
    y_scale = ctx.attr_float("y_scale", 0);
    x_zero_point = static_cast<int>(ctx.attr_int("x_zero_point", 0));
    y_zero_point = static_cast<int>(ctx.attr_int("y_zero_point", 0));
    w_scales = ctx.attr_floats("w_scales");
    activation = ctx.attr_string("activation", "");
    clip_max = ctx.attr_float("clip_max", 0);
    if (!(x_scale > 0) || !(y_scale > 0)) return ctx.Invalid("needs positive x_scale and y_scale");
    if (w_scales.size() != 1 && static_cast<int64_t>(w_scales.size()) != n_out)
      return ctx.Invalid("w_scales has {} values for {} output channels", w_scales.size(), n_out);
    if (x_zero_point < 0 || x_zero_point > 255 || y_zero_point < 0 || y_zero_point > 255)
      return ctx.Invalid("zero points must be uint8");
    if (!activation.empty() && activation != "Relu" && activation != "Clip")
      return ctx.Invalid("unknown activation '{}'", activation);
    return Status::Ok();
  }

  // Output scales, zero points (runtime values, bound by BindZeroPoints) and the activation.
  dnnl::primitive_attr Attr(int channel_mask) const {
    dnnl::primitive_attr attr;
    std::vector<float> s(w_scales.size());
    for (size_t c = 0; c < s.size(); ++c) s[c] = x_scale * w_scales[c] / y_scale;
    attr.set_output_scales(s.size() == 1 ? 0 : channel_mask, s);
    if (x_zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    if (y_zero_point) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    dnnl::post_ops po;
    if (activation == "Relu") po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    if (activation == "Clip")
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, clip_max / y_scale);
    attr.set_post_ops(po);
    return UserScratchpad(attr);
  }

  void BindZeroPoints(PrimitiveCall& call) const {
    auto bind = [&](int arg, int value) {
      memory m({{1}, kS32, memory::format_tag::a}, Engine());
      *static_cast<int32_t*>(m.get_data_handle()) = value;
      call.AddFixed(DNNL_ARG_ATTR_ZERO_POINTS | arg, m);
    };
    if (x_zero_point) bind(DNNL_ARG_SRC, x_zero_point);
    if (y_zero_point) bind(DNNL_ARG_DST, y_zero_point);
  }
};

Shape ChannelsLast(const Shape& nchw) { return {nchw[0], 1, nchw[2], nchw[3], nchw[1]}; }
bool IsChannelsLast(const Tensor& t) { return t.rank() == 5 && t.dim(1) == 1; }
memory::dims NchwDims(const Tensor& channels_last) {
  return {channels_last.dim(0), channels_last.dim(4), channels_last.dim(2), channels_last.dim(3)};
}

// ---- layout edges ----

// y = saturate(round_half_even(x / scale) + zero_point), as the ONNX reference computes it.
inline void QuantizeLoop(const float* __restrict x, uint8_t* __restrict y, int64_t n, float scale,
                         float zero_point) {
  for (int64_t i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] / scale) + zero_point;
    v = v > 0.f ? v : 0.f;  // ternaries (vmaxps / vminps); NaN becomes 0
    v = v < 255.f ? v : 255.f;
    y[i] = static_cast<uint8_t>(static_cast<int32_t>(v));
  }
}
inline void DequantizeLoop(const uint8_t* __restrict x, float* __restrict y, int64_t n, float scale,
                           float zero_point) {
  for (int64_t i = 0; i < n; ++i) y[i] = (static_cast<float>(x[i]) - zero_point) * scale;
}

// The com.hone QuantizeLinear / DequantizeLinear attributes: scale and zero_point.
class LayoutEdge : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    scale_ = ctx.attr_float("scale", 0);
    zero_point_ = static_cast<int>(ctx.attr_int("zero_point", 0));
    if (!(scale_ > 0)) return ctx.Invalid("needs a positive scale");
    if (zero_point_ < 0 || zero_point_ > 255) return ctx.Invalid("zero_point must be uint8");
    return Status::Ok();
  }

 protected:
  float scale_ = 1;
  int zero_point_ = 0;
};

// Quantizes in place order (a vectorised loop into a uint8 NCHW buffer), then moves the bytes to
// channels-last with a oneDNN reorder: a scaled float -> uint8 reorder straight to channels-last
// took twice as long for 3-channel images.
class QuantizeNhwc final : public LayoutEdge {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32 || x.rank() != 4)
      return ctx.Error("expects a float32 NCHW tensor, got {} {}", DataTypeName(x.dtype()),
                       ShapeToString(x.shape()));
    Tensor& y = ctx.OutputUninitialized(0, DataType::kUInt8, ChannelsLast(x.shape()));
    if (x.numel() == 0) return Status::Ok();
    Tensor plain = ctx.Temporary(DataType::kUInt8, x.shape());
    const float scale = scale_, zp = static_cast<float>(zero_point_);
    ctx.pool().ParallelFor(x.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      const float* px = x.data<float>() + begin;
      uint8_t* pq = plain.data<uint8_t>() + begin;
      Vectorized([&] { QuantizeLoop(px, pq, end - begin, scale, zp); });
    });
    SetDnnlThreads(ctx.pool().parallelism(), static_cast<double>(x.numel()));
    auto call = cache_.Get(x.shape(), [&] {
      const memory::dims d(x.shape().begin(), x.shape().end());
      return std::shared_ptr<const PrimitiveCall>(
          MakeReorder(memory::desc(d, kU8, memory::format_tag::nchw),
                      memory::desc(d, kU8, memory::format_tag::nhwc)));
    });
    call->Execute({plain.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  ShapeCache<PrimitiveCall> cache_;
};

class DequantizeNhwc final : public LayoutEdge {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kUInt8 || !IsChannelsLast(x))
      return ctx.Error("expects a uint8 [N, 1, H, W, C] tensor, got {} {}", DataTypeName(x.dtype()),
                       ShapeToString(x.shape()));
    const memory::dims d = NchwDims(x);
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, Shape(d.begin(), d.end()));
    if (x.numel() == 0) return Status::Ok();
    SetDnnlThreads(ctx.pool().parallelism(), static_cast<double>(x.numel()) * 4);
    auto call = cache_.Get(x.shape(), [&] {
      dnnl::primitive_attr attr;
      attr.set_output_scales(0, {scale_});
      if (zero_point_) attr.set_zero_points(DNNL_ARG_SRC, 0, {zero_point_});
      memory::desc src(d, kU8, memory::format_tag::nhwc), dst(d, kF32, memory::format_tag::nchw);
      auto c = std::make_shared<PrimitiveCall>(dnnl::reorder(
          dnnl::reorder::primitive_desc(Engine(), src, Engine(), dst, UserScratchpad(attr))));
      c->AddVarying(DNNL_ARG_FROM, src);
      c->AddVarying(DNNL_ARG_TO, dst);
      return std::shared_ptr<const PrimitiveCall>(c);
    });
    call->Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  ShapeCache<PrimitiveCall> cache_;
};

// ---- ai.onnx QuantizeLinear / DequantizeLinear, per tensor, float32 <-> uint8 ----

// Serves the per-tensor float32 <-> uint8 form with constant scale and zero point (what QDQ
// models use between float ops); declines anything else to the reference kernel.
template <bool kQuantize>
class PlainQdq final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const Tensor* s = ctx.constant_input(1);
    const Tensor* z = ctx.has_input(2) ? ctx.constant_input(2) : nullptr;
    if (!s || s->dtype() != DataType::kFloat32 || s->numel() != 1)
      return Decline("scale is not a constant float32 scalar");
    if (!z || z->dtype() != DataType::kUInt8 || z->numel() != 1)
      return Decline("zero point is not a constant uint8 scalar");
    for (const auto& [k, a] : ctx.node().attributes)
      if (k != "axis" && !(k == "saturate" && a.i == 1) && !(k == "block_size" && a.i == 0))
        return Decline(fmt::format("attribute '{}'", k));
    scale_ = s->data<float>()[0];
    zero_point_ = static_cast<float>(z->data<uint8_t>()[0]);
    if (!(scale_ > 0) || !std::isfinite(scale_)) return Decline("scale is not positive");
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != (kQuantize ? DataType::kFloat32 : DataType::kUInt8))
      return Decline("input type");
    Tensor& y =
        ctx.OutputUninitialized(0, kQuantize ? DataType::kUInt8 : DataType::kFloat32, x.shape());
    const float scale = scale_, zp = zero_point_;
    ctx.pool().ParallelFor(x.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      if constexpr (kQuantize) {
        const float* px = x.data<float>() + begin;
        uint8_t* py = y.data<uint8_t>() + begin;
        Vectorized([&] { QuantizeLoop(px, py, end - begin, scale, zp); });
      } else {
        const uint8_t* px = x.data<uint8_t>() + begin;
        float* py = y.data<float>() + begin;
        Vectorized([&] { DequantizeLoop(px, py, end - begin, scale, zp); });
      }
    });
    return Status::Ok();
  }

 private:
  float scale_ = 1, zero_point_ = 0;
};

// ---- convolution ----

class QConv final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    HONE_RETURN_IF_ERROR(p_.Parse(ctx, DataType::kInt8));
    return q_.Parse(ctx, p_.out_channels());
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kUInt8 || !IsChannelsLast(x) || x.dim(4) != p_.in_channels())
      return ctx.Error("expects uint8 [N, 1, H, W, {}], got {} {}", p_.in_channels(),
                       DataTypeName(x.dtype()), ShapeToString(x.shape()));
    const memory::dims xd = NchwDims(x);
    const Shape xs(xd.begin(), xd.end());
    const Shape out = ConvOutputShape(p_, xs);
    if (out.empty()) return ctx.Error("no output window fits input {}", ShapeToString(xs));
    SetDnnlThreads(ctx.pool().parallelism(), ConvFlops(p_, out) / 4);
    auto e = cache_.Get(xs, [&]() -> std::shared_ptr<const ConvPrim> {
      // Output scales per channel: mask over dim 1 (the output channels).
      std::shared_ptr<ConvPrim> c =
          BuildConv(p_, xs, memory::format_tag::nhwc, memory::format_tag::nhwc, q_.Attr(1 << 1),
                    {.src = kU8, .weights = kS8, .dst = kU8});
      if (c) q_.BindZeroPoints(c->call);
      return c;
    });
    if (!e)
      return ctx.Error("oneDNN could not build an int8 convolution for {}", ShapeToString(xs));
    Tensor& y = ctx.OutputUninitialized(0, DataType::kUInt8, ChannelsLast(e->out_nchw));
    e->call.Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  ConvParams p_;
  QuantAttrs q_;
  ShapeCache<ConvPrim> cache_;
};

// ---- elementwise add ----

// y = round(clamp(ka * a + kb * b + c0, lo, 255)), run through Vectorized (kernels/cpu/simd.h).
// Restrict pointers and by-value constants: uint8_t stores may alias anything, and the compiler
// would reload the constants otherwise.
inline void QAddLoop(const uint8_t* __restrict a, const uint8_t* __restrict b,
                     uint8_t* __restrict y, int64_t n, float ka, float kb, float c0, float lo) {
  for (int64_t i = 0; i < n; ++i) {
    float v = ka * static_cast<float>(a[i]) + kb * static_cast<float>(b[i]) + c0;
    v = v > lo ? v : lo;  // ternaries (vmaxps / vminps), not std::min/max: those became branches
    v = v < 255.f ? v : 255.f;
    y[i] = static_cast<uint8_t>(static_cast<int32_t>(v + 0.5f));  // v >= 0: round half up
  }
}

class QAdd final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const float sa = ctx.attr_float("a_scale", 0), sb = ctx.attr_float("b_scale", 0);
    const float sy = ctx.attr_float("y_scale", 0);
    if (!(sa > 0) || !(sb > 0) || !(sy > 0)) return ctx.Invalid("needs positive scales");
    const float za = static_cast<float>(ctx.attr_int("a_zero_point", 0));
    const float zb = static_cast<float>(ctx.attr_int("b_zero_point", 0));
    zy_ = static_cast<float>(ctx.attr_int("y_zero_point", 0));
    ka_ = sa / sy;
    kb_ = sb / sy;
    c0_ = zy_ - ka_ * za - kb_ * zb;
    const std::string act = ctx.attr_string("activation", "");
    if (!act.empty() && act != "Relu") return ctx.Invalid("unknown activation '{}'", act);
    floor_ = act == "Relu" ? zy_ : 0.f;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& a = *ctx.input(0);
    const Tensor& b = *ctx.input(1);
    if (a.dtype() != DataType::kUInt8 || b.dtype() != DataType::kUInt8 || a.shape() != b.shape())
      return ctx.Error("expects two uint8 tensors of one shape, got {} {} and {} {}",
                       DataTypeName(a.dtype()), ShapeToString(a.shape()), DataTypeName(b.dtype()),
                       ShapeToString(b.shape()));
    Tensor& y = ctx.OutputUninitialized(0, DataType::kUInt8, a.shape());
    const uint8_t* pa = a.data<uint8_t>();
    const uint8_t* pb = b.data<uint8_t>();
    uint8_t* py = y.data<uint8_t>();
    ctx.pool().ParallelFor(a.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
      AddRange(pa + begin, pb + begin, py + begin, end - begin);
    });
    return Status::Ok();
  }

 private:
  void AddRange(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n) const {
    const float ka = ka_, kb = kb_, c0 = c0_, lo = floor_;
    Vectorized([&] { QAddLoop(a, b, y, n, ka, kb, c0, lo); });
  }

  float ka_ = 1, kb_ = 1, c0_ = 0, zy_ = 0, floor_ = 0;
};

// ---- matmul ----

struct QMatMulEntry {
  memory weights, bias;
  PrimitiveCall call;
};

class QMatMul final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    w_ = ctx.constant_input(1);
    if (!w_ || w_->dtype() != DataType::kInt8 || w_->rank() != 2)
      return ctx.Invalid("needs constant int8 [K, N] weights");
    if (ctx.has_input(2)) {
      b_ = ctx.constant_input(2);
      if (!b_ || b_->dtype() != DataType::kFloat32 || b_->numel() != w_->dim(1))
        return ctx.Invalid("bias must be a constant float32 [N]");
    }
    return q_.Parse(ctx, w_->dim(1));
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const int64_t k = w_->dim(0), n = w_->dim(1);
    if (x.dtype() != DataType::kUInt8 || x.rank() < 1 || x.shape().back() != k)
      return ctx.Error("expects uint8 [..., {}], got {} {}", k, DataTypeName(x.dtype()),
                       ShapeToString(x.shape()));
    const int64_t m = x.numel() / k;
    Shape out = x.shape();
    out.back() = n;
    SetDnnlThreads(ctx.pool().parallelism(), 2.0 * static_cast<double>(m * k * n) / 4);
    auto e = cache_.Get({m}, [&] { return Build(m); });
    if (!e) return ctx.Error("oneDNN could not build an int8 matmul for M = {}", m);
    Tensor& y = ctx.OutputUninitialized(0, DataType::kUInt8, out);
    if (m > 0) e->call.Execute({x.raw_data(), y.raw_data()});
    return Status::Ok();
  }

 private:
  std::shared_ptr<const QMatMulEntry> Build(int64_t m) const {
    const int64_t k = w_->dim(0), n = w_->dim(1);
    auto e = std::make_shared<QMatMulEntry>();
    memory::desc a({m, k}, kU8, memory::format_tag::ab), c({m, n}, kU8, memory::format_tag::ab);
    memory::desc w_any({k, n}, kS8, memory::format_tag::any);
    memory::desc w_plain({k, n}, kS8, memory::format_tag::ab);
    memory::desc b_md({1, n}, kF32, memory::format_tag::ab);
    try {
      auto d = b_ ? dnnl::matmul::desc(a, w_any, b_md, c) : dnnl::matmul::desc(a, w_any, c);
      dnnl::matmul::primitive_desc pd(d, q_.Attr(1 << 1), Engine());
      e->weights = memory(pd.weights_desc(), Engine());
      memory w_src(w_plain, Engine(), w_->raw_data());
      dnnl::stream s(Engine());
      dnnl::reorder(w_src, e->weights).execute(s, w_src, e->weights);
      s.wait();
      e->call.set_primitive(dnnl::matmul(pd));
      e->call.AddVarying(DNNL_ARG_SRC, a);
      e->call.AddVarying(DNNL_ARG_DST, c);
      e->call.AddFixed(DNNL_ARG_WEIGHTS, e->weights);
      if (b_) {
        e->bias = memory(b_md, Engine());
        std::copy_n(b_->data<float>(), n, static_cast<float*>(e->bias.get_data_handle()));
        e->call.AddFixed(DNNL_ARG_BIAS, e->bias);
      }
      q_.BindZeroPoints(e->call);
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return e;
  }

  const Tensor* w_ = nullptr;
  const Tensor* b_ = nullptr;
  QuantAttrs q_;
  ShapeCache<QMatMulEntry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuQuantizeLinear() { return std::make_unique<PlainQdq<true>>(); }
std::unique_ptr<Kernel> CreateCpuDequantizeLinear() { return std::make_unique<PlainQdq<false>>(); }
std::unique_ptr<Kernel> CreateQuantizeNhwc() { return std::make_unique<QuantizeNhwc>(); }
std::unique_ptr<Kernel> CreateDequantizeNhwc() { return std::make_unique<DequantizeNhwc>(); }
std::unique_ptr<Kernel> CreateQConv() { return std::make_unique<QConv>(); }
std::unique_ptr<Kernel> CreateQAdd() { return std::make_unique<QAdd>(); }
std::unique_ptr<Kernel> CreateQMatMul() { return std::make_unique<QMatMul>(); }

}  // namespace hone::cpu
