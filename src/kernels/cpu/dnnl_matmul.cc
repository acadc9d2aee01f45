// Fast MatMul (ONNX MatMul 1-22) and Gemm (ONNX Gemm 7-22) on oneDNN, float32.
// A constant 2-D right-hand side (weights) is prepacked once per shape signature; a variable one
// (attention scores) runs as a batched oneDNN matmul over plain layouts. Gemm is served when
// alpha = beta = 1 and C (if any) is a bias over N. Anything else declines to the reference.
#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

using dnnl::memory;

struct MatmulEntry {
  dnnl::matmul prim;
  memory::desc a_md, b_md, c_md, bias_md;
  memory weights;  // prepacked constant B (empty when B is a runtime input)
  memory bias;
  Shape out_shape;
  PrimitiveCall call;  // prim with A, C (and a runtime B) varying
};

// y = a @ b (+ bias). `b_const` non-null: B is constant [K, N] (already transposed if needed).
class DnnlMatmulBase : public Kernel {
 protected:
  Status Run(ComputeContext& ctx, const Tensor& a, const Tensor* b_runtime, Shape key) const {
    // Before building: oneDNN fixes a primitive's thread count when it creates it.
    const int64_t n = b_runtime ? b_runtime->shape().back() : n_;
    SetDnnlThreads(ctx.pool().parallelism(),
                   2.0 * static_cast<double>(a.numel()) * static_cast<double>(n));
    auto entry = cache_.Get(
        key, [&] { return Build(a.shape(), b_runtime ? &b_runtime->shape() : nullptr); });
    if (!entry) return Decline("oneDNN could not build this matmul");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, entry->out_shape);
    if (b_runtime)
      entry->call.Execute({a.raw_data(), y.raw_data(), b_runtime->raw_data()});
    else
      entry->call.Execute({a.raw_data(), y.raw_data()});
    return Status::Ok();
  }

  // a: [..., M, K]. With a constant B ([K, N] plain, or transposed [N, K]) the batch dims of A
  // fold into M.
  std::shared_ptr<const MatmulEntry> Build(const Shape& as, const Shape* bs) const {
    auto e = std::make_shared<MatmulEntry>();
    try {
      if (!bs) {
        const int64_t k = as.back();
        const int64_t m = ShapeSize(as) / std::max<int64_t>(k, 1);
        if (k != k_) return nullptr;
        e->out_shape = as;
        e->out_shape.back() = n_;
        e->a_md = PlainDesc({m, k});
        e->c_md = PlainDesc({m, n_});
        auto b_any = memory::desc({k_, n_}, memory::data_type::f32, memory::format_tag::any);
        e->bias_md = memory::desc({1, n_}, memory::data_type::f32, memory::format_tag::ab);
        auto pd = bias_ ? dnnl::matmul::primitive_desc(
                              dnnl::matmul::desc(e->a_md, b_any, e->bias_md, e->c_md),
                              UserScratchpad(), Engine())
                        : dnnl::matmul::primitive_desc(dnnl::matmul::desc(e->a_md, b_any, e->c_md),
                                                       UserScratchpad(), Engine());
        e->prim = dnnl::matmul(pd);
        e->weights = Packed(pd.weights_desc());
        if (bias_) {
          e->bias = memory(e->bias_md, Engine());
          std::copy_n(bias_->data<float>(), n_, static_cast<float*>(e->bias.get_data_handle()));
        }
        e->call.set_primitive(e->prim);
        e->call.AddVarying(DNNL_ARG_SRC, e->a_md);
        e->call.AddVarying(DNNL_ARG_DST, e->c_md);
        e->call.AddFixed(DNNL_ARG_WEIGHTS, e->weights);
        if (bias_) e->call.AddFixed(DNNL_ARG_BIAS, e->bias);
        return e;
      }
      // Runtime B: equal ranks >= 2, batch dims equal or 1 (numpy broadcasting).
      if (as.size() != bs->size() || as.size() < 2 || as.size() > 6) return nullptr;
      const size_t r = as.size();
      if (as[r - 1] != (*bs)[r - 2]) return nullptr;
      Shape cs = as;
      cs[r - 1] = (*bs)[r - 1];
      for (size_t i = 0; i + 2 < r; ++i) {
        if (as[i] != (*bs)[i] && as[i] != 1 && (*bs)[i] != 1) return nullptr;
        cs[i] = std::max(as[i], (*bs)[i]);
      }
      e->out_shape = cs;
      e->a_md = PlainDesc(as);
      e->b_md = PlainDesc(*bs);
      e->c_md = PlainDesc(cs);
      e->prim = dnnl::matmul(dnnl::matmul::primitive_desc(
          dnnl::matmul::desc(e->a_md, e->b_md, e->c_md), UserScratchpad(), Engine()));
      e->call.set_primitive(e->prim);
      e->call.AddVarying(DNNL_ARG_SRC, e->a_md);
      e->call.AddVarying(DNNL_ARG_DST, e->c_md);
      e->call.AddVarying(DNNL_ARG_WEIGHTS, e->b_md);
      return e;
    } catch (const dnnl::error&) {
      return nullptr;
    }
  }

  // Constant B in the layout `md`, reordered once per layout: the primitives of different
  // shapes (batch sizes) mostly want the same one, and share it.
  memory Packed(const memory::desc& md) const {
    std::lock_guard<std::mutex> lock(packed_mu_);
    for (const auto& [d, m] : packed_)
      if (d == md) return m;
    memory w(md, Engine());
    // B as stored: [K, N] (ab) or, for transB, [N, K] read as K x N with strides (ba).
    memory::desc b_src =
        trans_b_ ? memory::desc({k_, n_}, memory::data_type::f32, memory::format_tag::ba)
                 : memory::desc({k_, n_}, memory::data_type::f32, memory::format_tag::ab);
    memory src(b_src, Engine(), b_->raw_data());
    dnnl::stream s(Engine());
    dnnl::reorder(src, w).execute(s, src, w);
    s.wait();
    packed_.emplace_back(md, w);
    return w;
  }

  mutable std::mutex packed_mu_;  // guards packed_
  mutable std::vector<std::pair<memory::desc, memory>> packed_;
  const Tensor* b_ = nullptr;     // constant B, owned by the model's initializers
  const Tensor* bias_ = nullptr;  // constant bias over N
  bool trans_b_ = false;
  int64_t k_ = 0, n_ = 0;
  ShapeCache<MatmulEntry> cache_;
};

class DnnlMatMul final : public DnnlMatmulBase {
 public:
  Status Init(const InitContext& ctx) override {
    b_ = ctx.constant_input(1);
    if (b_ && (b_->dtype() != DataType::kFloat32 || b_->rank() != 2)) b_ = nullptr;
    if (b_) {
      k_ = b_->dim(0);
      n_ = b_->dim(1);
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& a = *ctx.input(0);
    const Tensor& b = *ctx.input(1);
    // Shapes oneDNN does not take (1-D operands, mixed ranks, other dtypes) decline at run time;
    // the executor then runs the reference kernel for this node.
    if (a.dtype() != DataType::kFloat32 || b.dtype() != DataType::kFloat32 || a.rank() < 2)
      return Decline("not a float32 matrix product of rank >= 2");
    if (b_ && a.shape().back() == k_) return Run(ctx, a, nullptr, a.shape());
    if (b.rank() != a.rank()) return Decline("operands of different ranks");
    // The cache key packs both shapes, a dim per 32 bits, and ends with -1 (constant-B keys,
    // A's shape alone, never do): it stays within Shape's inline capacity.
    Shape key;
    for (int64_t i = 0; i < a.rank(); ++i) {
      if (a.dim(i) >= (int64_t{1} << 31) || b.dim(i) >= (int64_t{1} << 31))
        return Decline("dimension too large");
      key.push_back(a.dim(i) << 32 | b.dim(i));
    }
    key.push_back(-1);
    return Run(ctx, a, &b, key);
  }
};

class DnnlGemm final : public DnnlMatmulBase {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.attr_float("alpha", 1.0f) != 1.0f || ctx.attr_float("beta", 1.0f) != 1.0f)
      return Decline("alpha/beta other than 1");
    if (ctx.attr_int("transA", 0) != 0) return Decline("transA");
    if (ctx.opset() < 7) return Decline("legacy broadcast semantics");
    b_ = ctx.constant_input(1);
    if (!b_ || b_->dtype() != DataType::kFloat32 || b_->rank() != 2)
      return Decline("B is not a constant float32 matrix");
    trans_b_ = ctx.attr_int("transB", 0) != 0;
    k_ = trans_b_ ? b_->dim(1) : b_->dim(0);
    n_ = trans_b_ ? b_->dim(0) : b_->dim(1);
    if (ctx.has_input(2)) {
      bias_ = ctx.constant_input(2);
      if (!bias_ || bias_->dtype() != DataType::kFloat32 || bias_->numel() != n_ ||
          (bias_->rank() == 2 && bias_->dim(0) != 1) || bias_->rank() > 2)
        return Decline("C is not a constant bias over N");
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& a = *ctx.input(0);
    if (a.dtype() != DataType::kFloat32 || a.rank() != 2 || a.dim(1) != k_)
      return ctx.Error("A must be float32 [M, {}], got {} {}", k_, DataTypeName(a.dtype()),
                       ShapeToString(a.shape()));
    return Run(ctx, a, nullptr, a.shape());
  }
};

// com.hone MatMul(A, W, bias) from passes/fuse_matmul_add.cc: A [..., K] float32, W a constant
// [K, N], bias a constant [N] (or [1, N]) added in oneDNN's epilogue.
class DnnlMatMulBias final : public DnnlMatmulBase {
 public:
  Status Init(const InitContext& ctx) override {
    b_ = ctx.constant_input(1);
    bias_ = ctx.constant_input(2);
    if (!b_ || b_->dtype() != DataType::kFloat32 || b_->rank() != 2)
      return ctx.Invalid("W must be a constant float32 matrix");
    k_ = b_->dim(0);
    n_ = b_->dim(1);
    if (!bias_ || bias_->dtype() != DataType::kFloat32 || bias_->numel() != n_)
      return ctx.Invalid("bias must be a constant float32 [{}]", n_);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& in = *ctx.input(0);
    if (in.dtype() != DataType::kFloat32 || in.rank() < 1 || in.shape().back() != k_)
      return ctx.Error("A must be float32 [..., {}], got {} {}", k_, DataTypeName(in.dtype()),
                       ShapeToString(in.shape()));
    const Tensor a = in.rank() == 1 ? in.Reshaped({1, k_}) : in;  // a vector: one row
    Status s = Run(ctx, a, nullptr, a.shape());
    if (s.code() == StatusCode::kNotSupported) return ctx.Error("{}", s.message());
    if (s.ok() && in.rank() == 1) ctx.SetOutput(0, ctx.output(0).Reshaped({n_}));
    return s;
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateDnnlMatMulBias() { return std::make_unique<DnnlMatMulBias>(); }
std::unique_ptr<Kernel> CreateDnnlMatMul() { return std::make_unique<DnnlMatMul>(); }
std::unique_ptr<Kernel> CreateDnnlGemm() { return std::make_unique<DnnlGemm>(); }

}  // namespace hone::cpu
