// Fast float32 Add, Sub, Mul, Div (ONNX 7-22, numpy broadcasting). The broadcast is reduced to
// the fewest dimensions (adjacent dims merge when both operands step through them alike), so the
// common cases - same shape, a scalar side, a bias over the trailing dims ([B,S,H] + [H]), a
// per-row scalar ([B,S,H] / [B,S,1]) - become one vectorised inner loop over contiguous or
// broadcast operands. Rows are split over the session's thread pool. Legacy (opset < 7)
// broadcast attributes and other dtypes decline to the reference kernels.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

// Elements per parallel task.
constexpr int64_t kGrain = 16384;

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

template <BinaryOp kOp>
inline float Apply(float a, float b) {
  if constexpr (kOp == BinaryOp::kAdd) return a + b;
  if constexpr (kOp == BinaryOp::kSub) return a - b;
  if constexpr (kOp == BinaryOp::kMul) return a * b;
  return a / b;
}

// Output dims with size-1 dims dropped and mergeable neighbours merged, and each operand's
// element stride per dim (0 where it is broadcast). At least one dim.
struct BroadcastLayout {
  Shape out_shape;
  Shape dims, a_strides, b_strides;
};

// False when the shapes do not broadcast (the reference kernel then reports it).
bool Coalesce(const Shape& as, const Shape& bs, BroadcastLayout& l) {
  const size_t rank = std::max(as.size(), bs.size());
  Shape da(rank, 1), db(rank, 1);
  std::copy(as.begin(), as.end(), da.begin() + static_cast<std::ptrdiff_t>(rank - as.size()));
  std::copy(bs.begin(), bs.end(), db.begin() + static_cast<std::ptrdiff_t>(rank - bs.size()));
  l.out_shape.assign(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    if (da[d] != db[d] && da[d] != 1 && db[d] != 1) return false;
    l.out_shape[d] = da[d] == 1 ? db[d] : da[d];
  }
  // Contiguous strides of each operand, zeroed on its size-1 dims.
  Shape sa(rank), sb(rank);
  int64_t pa = 1, pb = 1;
  for (size_t d = rank; d-- > 0;) {
    sa[d] = da[d] == 1 ? 0 : pa;
    sb[d] = db[d] == 1 ? 0 : pb;
    pa *= da[d];
    pb *= db[d];
  }
  l.dims.clear();
  l.a_strides.clear();
  l.b_strides.clear();
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = l.out_shape[d];
    if (n == 1) continue;
    if (!l.dims.empty() && l.a_strides.back() == sa[d] * n && l.b_strides.back() == sb[d] * n) {
      l.dims.back() *= n;
      l.a_strides.back() = sa[d];
      l.b_strides.back() = sb[d];
      continue;
    }
    l.dims.push_back(n);
    l.a_strides.push_back(sa[d]);
    l.b_strides.push_back(sb[d]);
  }
  if (l.dims.empty()) {
    l.dims = {1};
    l.a_strides = {0};
    l.b_strides = {0};
  }
  return true;
}

template <BinaryOp kOp>
void Run(ThreadPool& pool, const BroadcastLayout& l, const float* a, const float* b, float* y) {
  const size_t k = l.dims.size();
  const int64_t inner = l.dims.back();
  const bool a_vec = l.a_strides.back() != 0, b_vec = l.b_strides.back() != 0;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < k; ++d) rows *= l.dims[d];
  pool.ParallelFor(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t begin, int64_t end) {
    Vectorized([&] {
      for (int64_t r = begin; r < end; ++r) {
        int64_t oa = 0, ob = 0, rem = r;
        for (size_t d = k - 1; d-- > 0;) {
          const int64_t i = rem % l.dims[d];
          rem /= l.dims[d];
          oa += i * l.a_strides[d];
          ob += i * l.b_strides[d];
        }
        const float* __restrict pa = a + oa;
        const float* __restrict pb = b + ob;
        float* __restrict py = y + r * inner;
        if (a_vec && b_vec) {
          for (int64_t i = 0; i < inner; ++i) py[i] = Apply<kOp>(pa[i], pb[i]);
        } else if (a_vec) {
          const float v = pb[0];
          for (int64_t i = 0; i < inner; ++i) py[i] = Apply<kOp>(pa[i], v);
        } else if (b_vec) {
          const float u = pa[0];
          for (int64_t i = 0; i < inner; ++i) py[i] = Apply<kOp>(u, pb[i]);
        } else {
          py[0] = Apply<kOp>(pa[0], pb[0]);
        }
      }
    });
  });
}

template <BinaryOp kOp>
class Binary final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() < 7 || ctx.has_attr("broadcast") || ctx.has_attr("axis"))
      return Decline("legacy broadcast attributes");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& a = *ctx.input(0);
    const Tensor& b = *ctx.input(1);
    if (a.dtype() != DataType::kFloat32 || b.dtype() != DataType::kFloat32)
      return Decline("not float32");
    BroadcastLayout l;
    if (!Coalesce(a.shape(), b.shape(), l)) return Decline("shapes do not broadcast");
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, l.out_shape);
    if (y.numel() == 0) return Status::Ok();
    Run<kOp>(ctx.pool(), l, a.data<float>(), b.data<float>(), y.data<float>());
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuAdd() { return std::make_unique<Binary<BinaryOp::kAdd>>(); }
std::unique_ptr<Kernel> CreateCpuSub() { return std::make_unique<Binary<BinaryOp::kSub>>(); }
std::unique_ptr<Kernel> CreateCpuMul() { return std::make_unique<Binary<BinaryOp::kMul>>(); }
std::unique_ptr<Kernel> CreateCpuDiv() { return std::make_unique<Binary<BinaryOp::kDiv>>(); }

}  // namespace hone::cpu
