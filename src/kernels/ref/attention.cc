// Reference com.hone Attention (version 1), made by the attention fusion pass
// (passes/fuse_attention.cc). Inputs Q [..., Sq, D], K [..., Sk, D], V [..., Sk, Dv] (rank >= 2
// each) and an optional mask; attribute scale (default 1). Output
//   Softmax(scale * MatMul(Q, K^T) + mask, axis -1) @ V
// with exactly the numpy broadcasting of the ONNX ops it replaces: the batch dims of the two
// MatMuls, and the mask against the scores (which may enlarge them). Float types; products in
// the type's arithmetic type (as the reference MatMul), the softmax in double (as the reference
// Softmax).
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"
#include "kernels/ref/gemm_ref.h"

namespace hone::ref {
namespace {

// dst[batch][m][n] = a[batch][m][k] * b[batch][k][n] with the batch dims of a and b
// broadcast to `batch` (numpy matmul); a and b contiguous.
template <typename C>
void BroadcastMatMul(ThreadPool& pool, const Shape& batch, const Shape& a_batch,
                     const Shape& b_batch, int64_t m, int64_t k, int64_t n, const C* a, const C* b,
                     C* dst) {
  const int64_t count = ShapeSize(batch);
  std::vector<int64_t> a_off(static_cast<size_t>(count)), b_off(static_cast<size_t>(count));
  ForEachBroadcast<2>(batch, {&a_batch, &b_batch}, [&](int64_t o, std::array<int64_t, 2> offs) {
    a_off[static_cast<size_t>(o)] = offs[0] * m * k;
    b_off[static_cast<size_t>(o)] = offs[1] * k * n;
  });
  RunGemms<C>(pool, count, m, n, k, [&](int64_t i) {
    GemmOperands<C> op;
    op.a = a + a_off[static_cast<size_t>(i)];
    op.a_rs = k;
    op.a_cs = 1;
    op.b = b + b_off[static_cast<size_t>(i)];
    op.ldb = n;
    op.c = dst + i * m * n;
    op.ldc = n;
    return op;
  });
}

Shape BatchDims(const Shape& shape) { return {shape.begin(), shape.end() - 2}; }

class Attention final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    scale_ = ctx.attr_float("scale", 1.0f);
    if (ctx.num_inputs() < 3 || ctx.num_inputs() > 4)
      return ctx.Invalid("expected inputs Q, K, V and an optional mask, got {} inputs",
                         ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* q = ctx.input(0);
    const Tensor* k = ctx.input(1);
    const Tensor* v = ctx.input(2);
    const Tensor* mask = ctx.input(3);
    if (!q || !k || !v) return ctx.Error("inputs Q, K and V are required");
    for (const Tensor* t : {k, v, mask})
      if (t && t->dtype() != q->dtype())
        return ctx.Error("input dtypes differ: Q is {}, another input {}", DataTypeName(q->dtype()),
                         DataTypeName(t->dtype()));
    if (q->rank() < 2 || k->rank() < 2 || v->rank() < 2)
      return ctx.Error("Q, K and V must have rank >= 2, got {}, {} and {}",
                       ShapeToString(q->shape()), ShapeToString(k->shape()),
                       ShapeToString(v->shape()));
    const int64_t sq = q->dim(q->rank() - 2), d = q->dim(q->rank() - 1);
    const int64_t sk = k->dim(k->rank() - 2);
    if (k->dim(k->rank() - 1) != d)
      return ctx.Error("Q {} and K {} differ in the last dim", ShapeToString(q->shape()),
                       ShapeToString(k->shape()));
    HONE_ASSIGN_OR_RETURN(
        Shape qk_batch, BroadcastShapes(ctx.node(), BatchDims(q->shape()), BatchDims(k->shape())));
    Shape scores_shape = qk_batch;
    scores_shape.push_back(sq);
    scores_shape.push_back(sk);
    Shape probs_shape = scores_shape;
    if (mask) {
      HONE_ASSIGN_OR_RETURN(probs_shape, BroadcastShapes(ctx.node(), scores_shape, mask->shape()));
    }
    const size_t pr = probs_shape.size();
    const int64_t rows = probs_shape[pr - 2], cols = probs_shape[pr - 1];
    if (v->dim(v->rank() - 2) != cols)
      return ctx.Error("the probabilities {} and V {} do not multiply", ShapeToString(probs_shape),
                       ShapeToString(v->shape()));
    const int64_t dv = v->dim(v->rank() - 1);
    const Shape probs_batch = BatchDims(probs_shape);
    HONE_ASSIGN_OR_RETURN(Shape out_batch,
                          BroadcastShapes(ctx.node(), probs_batch, BatchDims(v->shape())));
    Shape out_shape = out_batch;
    out_shape.push_back(rows);
    out_shape.push_back(dv);
    Tensor& y = ctx.Output(0, q->dtype(), out_shape);
    return VisitFloat(ctx.node(), q->dtype(), [&]<typename T>() {
      using C = Acc<T>;
      std::vector<C> sq_store, sk_store, sv_store;
      const C* qp = AsCompute<T>(q->data<T>(), q->numel(), sq_store);
      const C* kp = AsCompute<T>(k->data<T>(), k->numel(), sk_store);
      const C* vp = AsCompute<T>(v->data<T>(), v->numel(), sv_store);
      // K^T, then the scaled scores.
      std::vector<C> kt(static_cast<size_t>(k->numel()));
      const int64_t k_mats = k->numel() / std::max<int64_t>(sk * d, 1);
      for (int64_t b = 0; b < k_mats; ++b)
        for (int64_t s = 0; s < sk; ++s)
          for (int64_t j = 0; j < d; ++j)
            kt[static_cast<size_t>(b * sk * d + j * sk + s)] = kp[b * sk * d + s * d + j];
      std::vector<C> scores(static_cast<size_t>(ShapeSize(scores_shape)));
      BroadcastMatMul<C>(ctx.pool(), qk_batch, BatchDims(q->shape()), BatchDims(k->shape()), sq, d,
                         sk, qp, kt.data(), scores.data());
      for (C& s : scores) s *= static_cast<C>(scale_);
      // + mask, broadcast both ways.
      std::vector<C> probs(static_cast<size_t>(ShapeSize(probs_shape)));
      if (mask) {
        std::vector<C> sm_store;
        const C* mp = AsCompute<T>(mask->data<T>(), mask->numel(), sm_store);
        ForEachBroadcast<2>(probs_shape, {&scores_shape, &mask->shape()},
                            [&](int64_t o, std::array<int64_t, 2> offs) {
                              probs[static_cast<size_t>(o)] =
                                  scores[static_cast<size_t>(offs[0])] + mp[offs[1]];
                            });
      } else {
        probs = scores;
      }
      // Softmax over the last axis.
      for (size_t r = 0; cols > 0 && r < probs.size(); r += static_cast<size_t>(cols)) {
        C* p = probs.data() + r;
        double mx = static_cast<double>(p[0]);
        for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, static_cast<double>(p[j]));
        double sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(p[j]) - mx);
        for (int64_t j = 0; j < cols; ++j)
          p[j] = static_cast<C>(std::exp(static_cast<double>(p[j]) - mx) / sum);
      }
      // @ V.
      std::vector<C> out(static_cast<size_t>(y.numel()));
      BroadcastMatMul<C>(ctx.pool(), out_batch, probs_batch, BatchDims(v->shape()), rows, cols, dv,
                         probs.data(), vp, out.data());
      T* dst = y.data<T>();
      for (size_t i = 0; i < out.size(); ++i) dst[i] = static_cast<T>(out[i]);
      return Status::Ok();
    });
  }

 private:
  float scale_ = 1.0f;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefAttention() { return std::make_unique<Attention>(); }

}  // namespace hone::ref
