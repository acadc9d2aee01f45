// Reference matrix-product kernels.
// ONNX operators: MatMul (opsets 1-22: numpy batch broadcasting, 1-D operands), Gemm (6-22:
// transA/transB/alpha/beta, unidirectional broadcast of C; the opset<7 `broadcast` attribute is
// accepted), MatMulInteger (10-22: per-tensor, per-row and per-column zero points), Einsum (12-22).
#include <algorithm>
#include <array>
#include <map>
#include <string>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"
#include "kernels/ref/gemm_ref.h"

namespace hone::ref {
namespace {

// Shapes of a (possibly batched, possibly 1-D) matrix product, numpy matmul rules.
struct MatMulShape {
  int64_t m = 0, k = 0, n = 0;
  Shape out_shape;
  // Element offsets of each batch item's A and B matrix.
  std::vector<int64_t> a_off, b_off;
};

StatusOr<MatMulShape> PlanMatMul(const ComputeContext& ctx, const Shape& a_shape,
                                 const Shape& b_shape) {
  if (a_shape.empty() || b_shape.empty())
    return ctx.Error("inputs must have rank >= 1, got shapes {} and {}", ShapeToString(a_shape),
                     ShapeToString(b_shape));
  const bool a1 = a_shape.size() == 1, b1 = b_shape.size() == 1;
  Shape as = a1 ? Shape{1, a_shape[0]} : a_shape;
  Shape bs = b1 ? Shape{b_shape[0], 1} : b_shape;
  MatMulShape p;
  p.m = as[as.size() - 2];
  p.k = as[as.size() - 1];
  p.n = bs[bs.size() - 1];
  if (bs[bs.size() - 2] != p.k)
    return ctx.Error("inner dimensions differ: A {} and B {}", ShapeToString(a_shape),
                     ShapeToString(b_shape));
  Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  HONE_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(ctx.node(), ba, bb));
  p.out_shape = batch;
  if (!a1) p.out_shape.push_back(p.m);
  if (!b1) p.out_shape.push_back(p.n);
  const int64_t count = ShapeSize(batch);
  p.a_off.resize(static_cast<size_t>(count));
  p.b_off.resize(static_cast<size_t>(count));
  const Shape* shapes_a = &ba;
  const Shape* shapes_b = &bb;
  ForEachBroadcast<2>(batch, {shapes_a, shapes_b}, [&](int64_t o, std::array<int64_t, 2> offs) {
    p.a_off[static_cast<size_t>(o)] = offs[0] * p.m * p.k;
    p.b_off[static_cast<size_t>(o)] = offs[1] * p.k * p.n;
  });
  return p;
}

// dst[count][m][n] = A[a_off] * B[b_off] over all batch items, in the arithmetic type C.
template <typename C>
void BatchedMatMul(ThreadPool& pool, const MatMulShape& p, const C* a, const C* b, C* dst) {
  RunGemms<C>(pool, static_cast<int64_t>(p.a_off.size()), p.m, p.n, p.k, [&](int64_t i) {
    GemmOperands<C> op;
    op.a = a + p.a_off[static_cast<size_t>(i)];
    op.a_rs = p.k;
    op.a_cs = 1;
    op.b = b + p.b_off[static_cast<size_t>(i)];
    op.ldb = p.n;
    op.c = dst + i * p.m * p.n;
    op.ldc = p.n;
    return op;
  });
}

// MatMul and Gemm take the float types and int32/int64/uint32/uint64.
template <typename F>
Status VisitMatMulTypes(const Node& node, DataType d, F&& f) {
  switch (d) {
    case DataType::kInt32:
      return f.template operator()<int32_t>();
    case DataType::kInt64:
      return f.template operator()<int64_t>();
    case DataType::kUInt32:
      return f.template operator()<uint32_t>();
    case DataType::kUInt64:
      return f.template operator()<uint64_t>();
    default:
      return VisitFloat(node, d, f);
  }
}

class MatMul final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (a == nullptr || b == nullptr) return ctx.Error("expected 2 inputs");
    if (a->dtype() != b->dtype())
      return ctx.Error("input dtypes differ: {} and {}", DataTypeName(a->dtype()),
                       DataTypeName(b->dtype()));
    HONE_ASSIGN_OR_RETURN(MatMulShape p, PlanMatMul(ctx, a->shape(), b->shape()));
    Tensor& y = ctx.Output(0, a->dtype(), p.out_shape);
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      std::vector<C> sa, sb;
      const C* ap = AsCompute<T>(a->data<T>(), a->numel(), sa);
      const C* bp = AsCompute<T>(b->data<T>(), b->numel(), sb);
      if constexpr (std::is_same_v<T, C>) {
        BatchedMatMul<C>(ctx.pool(), p, ap, bp, y.data<T>());
      } else {
        std::vector<C> out(static_cast<size_t>(y.numel()));
        BatchedMatMul<C>(ctx.pool(), p, ap, bp, out.data());
        T* dst = y.data<T>();
        for (size_t i = 0; i < out.size(); ++i) dst[i] = static_cast<T>(out[i]);
      }
      return Status::Ok();
    };
    return VisitMatMulTypes(ctx.node(), a->dtype(), body);
  }
};

class MatMulInteger final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (a == nullptr || b == nullptr) return ctx.Error("expected inputs A and B");
    HONE_ASSIGN_OR_RETURN(MatMulShape p, PlanMatMul(ctx, a->shape(), b->shape()));
    std::vector<int32_t> a32, b32;
    HONE_RETURN_IF_ERROR(Widen(ctx, *a, ctx.input(2), p.m, p.k, /*per_row=*/true, a32, "A"));
    HONE_RETURN_IF_ERROR(Widen(ctx, *b, ctx.input(3), p.k, p.n, /*per_row=*/false, b32, "B"));
    Tensor& y = ctx.Output(0, DataType::kInt32, p.out_shape);
    BatchedMatMul<int32_t>(ctx.pool(), p, a32.data(), b32.data(), y.data<int32_t>());
    return Status::Ok();
  }

 private:
  // x - zero_point as int32. The zero point is a scalar, or 1-D per row of A (size rows) /
  // per column of B (size cols).
  static Status Widen(const ComputeContext& ctx, const Tensor& x, const Tensor* zp, int64_t rows,
                      int64_t cols, bool per_row, std::vector<int32_t>& out, const char* what) {
    if (x.dtype() != DataType::kUInt8 && x.dtype() != DataType::kInt8)
      return ctx.Error("input {} must be uint8 or int8, got {}", what, DataTypeName(x.dtype()));
    std::vector<int32_t> zero(1, 0);
    if (zp != nullptr) {
      if (zp->dtype() != x.dtype())
        return ctx.Error("zero point of {} must have its dtype {}, got {}", what,
                         DataTypeName(x.dtype()), DataTypeName(zp->dtype()));
      const int64_t want = per_row ? rows : cols;
      if (zp->numel() != 1 && zp->numel() != want)
        return ctx.Error("zero point of {}: expected 1 or {} elements, got {}", what, want,
                         zp->numel());
      zero.resize(static_cast<size_t>(zp->numel()));
      for (size_t i = 0; i < zero.size(); ++i)
        zero[i] = x.dtype() == DataType::kUInt8 ? zp->data<uint8_t>()[i] : zp->data<int8_t>()[i];
    }
    const int64_t n = x.numel();
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      int32_t v = x.dtype() == DataType::kUInt8 ? x.data<uint8_t>()[i] : x.data<int8_t>()[i];
      int64_t zi = 0;
      if (zero.size() > 1) zi = per_row ? (i / cols) % rows : i % cols;
      out[static_cast<size_t>(i)] = v - zero[static_cast<size_t>(zi)];
    }
    return Status::Ok();
  }
};

class Gemm final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    trans_a_ = ctx.attr_int("transA", 0) != 0;
    trans_b_ = ctx.attr_int("transB", 0) != 0;
    alpha_ = ctx.attr_float("alpha", 1.0f);
    beta_ = ctx.attr_float("beta", 1.0f);
    if (ctx.num_inputs() < 2) return ctx.Invalid("expected inputs A and B");
    // A constant float32 B stored as N x K is transposed once here.
    const Tensor* w = ctx.constant_input(1);
    if (trans_b_ && w != nullptr && w->dtype() == DataType::kFloat32 && w->rank() == 2) {
      const int64_t n = w->dim(0), k = w->dim(1);
      packed_b_.resize(static_cast<size_t>(n * k));
      const float* src = w->data<float>();
      for (int64_t j = 0; j < n; ++j)
        for (int64_t kk = 0; kk < k; ++kk)
          packed_b_[static_cast<size_t>(kk * n + j)] = src[j * k + kk];
      packed_src_ = w->raw_data();
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = ctx.input(2);
    if (a == nullptr || b == nullptr) return ctx.Error("expected inputs A and B");
    if (a->rank() != 2) return ctx.Error("input A rank: expected 2, got {}", a->rank());
    if (b->rank() != 2) return ctx.Error("input B rank: expected 2, got {}", b->rank());
    if (a->dtype() != b->dtype())
      return ctx.Error("input dtypes differ: {} and {}", DataTypeName(a->dtype()),
                       DataTypeName(b->dtype()));
    const int64_t m = trans_a_ ? a->dim(1) : a->dim(0);
    const int64_t k = trans_a_ ? a->dim(0) : a->dim(1);
    const int64_t kb = trans_b_ ? b->dim(1) : b->dim(0);
    const int64_t n = trans_b_ ? b->dim(0) : b->dim(1);
    if (k != kb)
      return ctx.Error("inner dimensions differ: A {} (transA={}) and B {} (transB={})",
                       ShapeToString(a->shape()), trans_a_, ShapeToString(b->shape()), trans_b_);
    const Shape out_shape{m, n};
    if (c != nullptr) {
      if (c->dtype() != a->dtype())
        return ctx.Error("input C dtype {} differs from A's {}", DataTypeName(c->dtype()),
                         DataTypeName(a->dtype()));
      if (c->rank() > 2) return ctx.Error("input C rank: expected <= 2, got {}", c->rank());
      for (int64_t i = 0; i < c->rank(); ++i) {
        const int64_t want = out_shape[static_cast<size_t>(2 - c->rank() + i)];
        if (c->dim(i) != 1 && c->dim(i) != want)
          return ctx.Error("input C shape {} does not broadcast to {}", ShapeToString(c->shape()),
                           ShapeToString(out_shape));
      }
    }
    Tensor& y = ctx.Output(0, a->dtype(), out_shape);
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      std::vector<C> sa, sb, sy;
      const C* ap = AsCompute<T>(a->data<T>(), a->numel(), sa);
      const C* bp = nullptr;
      if (trans_b_) {
        if constexpr (std::is_same_v<C, float>) {
          if (!packed_b_.empty() && b->raw_data() == packed_src_) bp = packed_b_.data();
        }
        if (bp == nullptr) {
          const T* src = b->data<T>();
          sb.resize(static_cast<size_t>(n * k));
          for (int64_t j = 0; j < n; ++j)
            for (int64_t kk = 0; kk < k; ++kk)
              sb[static_cast<size_t>(kk * n + j)] = static_cast<C>(src[j * k + kk]);
          bp = sb.data();
        }
      } else {
        bp = AsCompute<T>(b->data<T>(), b->numel(), sb);
      }
      C* dst = nullptr;
      if constexpr (std::is_same_v<T, C>) {
        dst = y.data<T>();
      } else {
        sy.resize(static_cast<size_t>(m * n));
        dst = sy.data();
      }
      GemmOperands<C> op;
      op.a = ap;
      op.a_rs = trans_a_ ? 1 : k;
      op.a_cs = trans_a_ ? m : 1;
      op.b = bp;
      op.ldb = n;
      op.c = dst;
      op.ldc = n;
      RunGemms<C>(ctx.pool(), 1, m, n, k, [&](int64_t) { return op; });
      const C alpha = static_cast<C>(alpha_), beta = static_cast<C>(beta_);
      std::vector<int64_t> cs(2, 0);
      const T* cp = nullptr;
      if (c != nullptr && beta_ != 0.0f) {
        cp = c->data<T>();
        cs = BroadcastStrides(c->shape(), out_shape);
      }
      T* out = y.data<T>();
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          C v = dst[i * n + j];
          if (alpha_ != 1.0f) v = alpha * v;
          if (cp != nullptr) v += beta * static_cast<C>(cp[i * cs[0] + j * cs[1]]);
          out[i * n + j] = static_cast<T>(v);
        }
      }
      return Status::Ok();
    };
    return VisitMatMulTypes(ctx.node(), a->dtype(), body);
  }

 private:
  bool trans_a_ = false, trans_b_ = false;
  float alpha_ = 1.0f, beta_ = 1.0f;
  std::vector<float> packed_b_;  // K x N copy of a constant N x K float32 B (transB=1)
  const void* packed_src_ = nullptr;
};

// Einsum: parses the equation once; computes by direct summation over every label.
class Einsum final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    std::string eq;
    for (char ch : ctx.attr_string("equation", "")) {
      if (ch != ' ') eq.push_back(ch);
    }
    if (eq.empty()) return ctx.Invalid("attribute equation is missing");
    const size_t arrow = eq.find("->");
    explicit_ = arrow != std::string::npos;
    std::string lhs = explicit_ ? eq.substr(0, arrow) : eq;
    rhs_ = explicit_ ? eq.substr(arrow + 2) : "";
    size_t start = 0;
    while (true) {
      const size_t comma = lhs.find(',', start);
      terms_.push_back(
          lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (static_cast<int>(terms_.size()) != ctx.num_inputs())
      return ctx.Invalid("equation has {} operands but the node has {} inputs", terms_.size(),
                         ctx.num_inputs());
    for (const std::string& t : terms_) {
      HONE_RETURN_IF_ERROR(CheckTerm(ctx, t));
    }
    if (explicit_) HONE_RETURN_IF_ERROR(CheckTerm(ctx, rhs_));
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const int n_in = ctx.num_inputs();
    for (int i = 0; i < n_in; ++i) {
      if (ctx.input(i) == nullptr) return ctx.Error("input {} is missing", i);
      if (ctx.input(i)->dtype() != ctx.input(0)->dtype())
        return ctx.Error("inputs must share one dtype");
    }
    // Expand each term into a list of label ids; '...' becomes ids 256+j (right-aligned).
    int64_t ell_rank = 0;
    std::vector<std::vector<int>> labels(static_cast<size_t>(n_in));
    for (int i = 0; i < n_in; ++i) {
      const std::string& t = terms_[static_cast<size_t>(i)];
      const int64_t named =
          static_cast<int64_t>(t.size()) - (t.find("...") != std::string::npos ? 3 : 0);
      const int64_t r = ctx.input(i)->rank();
      if (t.find("...") == std::string::npos) {
        if (named != r)
          return ctx.Error("operand {} has rank {} but its term '{}' names {} axes", i, r, t,
                           named);
      } else {
        if (r < named)
          return ctx.Error("operand {} has rank {}, fewer than term '{}' needs", i, r, t);
        ell_rank = std::max(ell_rank, r - named);
      }
    }
    std::map<int, int64_t> sizes;
    auto expand = [&](const std::string& t, int64_t rank, std::vector<int>& out) {
      for (size_t p = 0; p < t.size(); ++p) {
        if (t[p] == '.') {
          const int64_t e = rank < 0 ? ell_rank : rank - (static_cast<int64_t>(t.size()) - 3);
          for (int64_t j = 0; j < e; ++j) out.push_back(static_cast<int>(256 + ell_rank - e + j));
          p += 2;
        } else {
          out.push_back(static_cast<unsigned char>(t[p]));
        }
      }
    };
    for (int i = 0; i < n_in; ++i) {
      const Tensor& x = *ctx.input(i);
      expand(terms_[static_cast<size_t>(i)], x.rank(), labels[static_cast<size_t>(i)]);
      const auto& li = labels[static_cast<size_t>(i)];
      for (size_t d = 0; d < li.size(); ++d) {
        const int64_t s = x.dim(static_cast<int64_t>(d));
        auto it = sizes.find(li[d]);
        if (it == sizes.end()) {
          sizes[li[d]] = s;
        } else if (it->second != s) {
          if (li[d] >= 256 && (it->second == 1 || s == 1)) {
            it->second = std::max(it->second, s);
          } else {
            return ctx.Error("label sizes disagree: {} vs {}", it->second, s);
          }
        }
      }
    }
    std::vector<int> out_labels;
    if (explicit_) {
      expand(rhs_, -1, out_labels);
    } else {
      for (int64_t j = 0; j < ell_rank; ++j) out_labels.push_back(static_cast<int>(256 + j));
      std::map<int, int> count;
      for (const auto& li : labels)
        for (int l : li) count[l]++;
      for (const auto& [l, cnt] : count)
        if (l < 256 && cnt == 1) out_labels.push_back(l);
    }
    // All labels: output ones first, then the summed ones.
    std::vector<int> all = out_labels;
    for (const auto& [l, s] : sizes)
      if (std::find(all.begin(), all.end(), l) == all.end()) all.push_back(l);
    for (int l : out_labels)
      if (sizes.find(l) == sizes.end()) return ctx.Error("output label has no input axis");
    Shape out_shape, dims;
    for (int l : out_labels) out_shape.push_back(sizes[l]);
    for (int l : all) dims.push_back(sizes[l]);
    // stride of each operand along each label (summed over repeated labels: diagonals)
    std::vector<std::vector<int64_t>> strides(static_cast<size_t>(n_in),
                                              std::vector<int64_t>(all.size(), 0));
    for (int i = 0; i < n_in; ++i) {
      const Tensor& x = *ctx.input(i);
      const Shape st = Strides(x.shape());
      const auto& li = labels[static_cast<size_t>(i)];
      for (size_t d = 0; d < li.size(); ++d) {
        if (x.dim(static_cast<int64_t>(d)) == 1 && li[d] >= 256) continue;  // broadcast
        const size_t pos =
            static_cast<size_t>(std::find(all.begin(), all.end(), li[d]) - all.begin());
        strides[static_cast<size_t>(i)][pos] += st[d];
      }
    }
    Tensor& y = ctx.Output(0, ctx.input(0)->dtype(), out_shape);
    const int64_t out_n = ShapeSize(out_shape);
    int64_t inner_n = 1;
    for (size_t d = out_labels.size(); d < all.size(); ++d) inner_n *= dims[d];
    auto body = [&]<typename T>() -> Status {
      using C = Acc<T>;
      T* dst = y.data<T>();
      std::vector<int64_t> idx(all.size(), 0);
      for (int64_t o = 0; o < out_n; ++o) {
        C acc = C(0);
        for (int64_t s = 0; s < inner_n; ++s) {
          C prod = C(1);
          for (int i = 0; i < n_in; ++i) {
            int64_t off = 0;
            const auto& st = strides[static_cast<size_t>(i)];
            for (size_t d = 0; d < all.size(); ++d) off += idx[d] * st[d];
            prod *= static_cast<C>(ctx.input(i)->data<T>()[off]);
          }
          acc += prod;
          // advance the summed odometer
          for (size_t d = all.size(); d-- > out_labels.size();) {
            if (++idx[d] < dims[d]) break;
            idx[d] = 0;
          }
        }
        dst[o] = static_cast<T>(acc);
        for (size_t d = out_labels.size(); d-- > 0;) {
          if (++idx[d] < dims[d]) break;
          idx[d] = 0;
        }
      }
      return Status::Ok();
    };
    return VisitNumeric(ctx.node(), y.dtype(), body);
  }

 private:
  static Status CheckTerm(const InitContext& ctx, const std::string& t) {
    int dots = 0;
    for (char ch : t) {
      if (ch == '.') {
        ++dots;
      } else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
        return ctx.Invalid("equation term '{}' has an invalid character '{}'", t, ch);
      }
    }
    if (dots != 0 && (dots != 3 || t.find("...") == std::string::npos))
      return ctx.Invalid("equation term '{}' has a malformed ellipsis", t);
    return Status::Ok();
  }

  bool explicit_ = false;
  std::vector<std::string> terms_;
  std::string rhs_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefMatMul() { return std::make_unique<MatMul>(); }
std::unique_ptr<Kernel> CreateRefMatMulInteger() { return std::make_unique<MatMulInteger>(); }
std::unique_ptr<Kernel> CreateRefGemm() { return std::make_unique<Gemm>(); }
std::unique_ptr<Kernel> CreateRefEinsum() { return std::make_unique<Einsum>(); }

}  // namespace hone::ref
