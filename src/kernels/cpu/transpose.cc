// Fast float32 Transpose (ONNX 1-22). The permutation is first reduced: size-1 axes are dropped
// and input axes that stay adjacent merge, so [S,1,H] with perm [1,0,2] is no move at all (the
// output is a view of the input) and [S,N,D] -> [N,D,S] is a 2-D transpose of [S, N*D]. What is
// left runs as row copies when the innermost axis stays innermost (the [0,2,1,3] head split of
// attention), else as 16x16 tiled 2-D transposes. Work is split over the session's thread pool.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kGrain = 16384;  // elements per parallel task
constexpr int64_t kTile = 16;

// Input dims and the permutation after dropping size-1 axes and merging runs of input axes that
// stay adjacent in the output.
void Reduce(const Shape& shape, const Shape& perm, Shape& dims, Shape& rperm) {
  const size_t r = shape.size();
  // Reduced input axis of each kept input axis, in input order.
  Shape id(r, -1);
  int64_t kept = 0;
  for (size_t a = 0; a < r; ++a)
    if (shape[a] != 1) id[a] = kept++;
  Shape p;  // kept axes in output order
  for (size_t i = 0; i < r; ++i)
    if (id[static_cast<size_t>(perm[i])] >= 0) p.push_back(id[static_cast<size_t>(perm[i])]);
  Shape kdims;
  for (size_t a = 0; a < r; ++a)
    if (shape[a] != 1) kdims.push_back(shape[a]);
  // Runs of consecutive input axes in output order become one axis.
  Shape group_of(static_cast<size_t>(kept), -1);  // input axis -> its run's head
  Shape heads;                                    // run heads in output order
  for (size_t j = 0; j < p.size(); ++j) {
    if (j > 0 && p[j] == p[j - 1] + 1) {
      group_of[static_cast<size_t>(p[j])] = group_of[static_cast<size_t>(p[j - 1])];
    } else {
      group_of[static_cast<size_t>(p[j])] = p[j];
      heads.push_back(p[j]);
    }
  }
  // Runs in input order: their merged dims and their new axis numbers.
  Shape sorted = heads;
  std::sort(sorted.begin(), sorted.end());
  dims.assign(sorted.size(), 1);
  for (int64_t a = 0; a < kept; ++a) {
    const auto pos =
        std::lower_bound(sorted.begin(), sorted.end(), group_of[static_cast<size_t>(a)]);
    dims[static_cast<size_t>(pos - sorted.begin())] *= kdims[static_cast<size_t>(a)];
  }
  rperm.clear();
  for (int64_t h : heads)
    rperm.push_back(std::lower_bound(sorted.begin(), sorted.end(), h) - sorted.begin());
}

// One axis walked by an outer loop: its extent and the element strides in source and
// destination.
struct Axis {
  int64_t n, src_stride, dst_stride;
};

// The outer axes of a transpose, held inline (ranks above Shape::kInline decline).
struct Axes {
  Axis axis[Shape::kInline];
  size_t size = 0;
  void push_back(const Axis& a) { axis[size++] = a; }
  const Axis* begin() const { return axis; }
  const Axis* end() const { return axis + size; }
  const Axis& operator[](size_t i) const { return axis[i]; }
};

// Source and destination offsets of outer index `o` over `axes` (the last axis varies fastest).
inline void Offsets(const Axes& axes, int64_t o, int64_t& src, int64_t& dst) {
  src = 0;
  dst = 0;
  for (size_t k = axes.size; k-- > 0;) {
    const int64_t i = o % axes[k].n;
    o /= axes[k].n;
    src += i * axes[k].src_stride;
    dst += i * axes[k].dst_stride;
  }
}

class Transpose final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_perm_ = ctx.has_attr("perm");
    perm_ = ctx.attr_ints("perm");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype() != DataType::kFloat32) return Decline("not float32");
    const size_t r = static_cast<size_t>(x.rank());
    if (r > Shape::kInline) return Decline("rank above 8");
    Shape perm = perm_;
    if (!has_perm_) {
      perm.resize(r);
      std::iota(perm.rbegin(), perm.rend(), 0);
    }
    Shape check = perm;
    std::sort(check.begin(), check.end());
    if (check.size() != r) return Decline("perm does not match the input rank");
    for (size_t i = 0; i < r; ++i)
      if (check[i] != static_cast<int64_t>(i)) return Decline("perm is not a permutation");
    Shape out_shape(r);
    for (size_t i = 0; i < r; ++i) out_shape[i] = x.dim(perm[i]);
    if (x.numel() == 0) {
      ctx.OutputUninitialized(0, DataType::kFloat32, out_shape);
      return Status::Ok();
    }
    Shape dims, rp;
    Reduce(x.shape(), perm, dims, rp);
    const size_t k = dims.size();
    bool identity = true;
    for (size_t i = 0; i < k; ++i) identity &= rp[i] == static_cast<int64_t>(i);
    if (identity) {
      ctx.SetOutput(0, x.Reshaped(out_shape));  // the same bytes in the same order
      return Status::Ok();
    }
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, out_shape);
    Shape src_strides(k), dst_strides(k);
    for (size_t a = k, s = 1; a-- > 0;) {
      src_strides[a] = static_cast<int64_t>(s);
      s *= static_cast<size_t>(dims[a]);
    }
    for (size_t i = k, s = 1; i-- > 0;) {  // output axis i reads input axis rp[i]
      dst_strides[static_cast<size_t>(rp[i])] = static_cast<int64_t>(s);
      s *= static_cast<size_t>(dims[static_cast<size_t>(rp[i])]);
    }
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    const int64_t last = static_cast<int64_t>(k) - 1;
    if (rp.back() == last) {
      // The innermost input axis stays innermost: copy rows of dims[last] floats.
      Axes outer;
      for (size_t i = 0; i + 1 < k; ++i) {
        const size_t a = static_cast<size_t>(rp[i]);
        outer.push_back({dims[a], src_strides[a], dst_strides[a]});
      }
      const int64_t len = dims.back();
      int64_t rows = 1;
      for (const Axis& ax : outer) rows *= ax.n;
      ctx.pool().ParallelFor(rows, std::max<int64_t>(1, kGrain / len), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          int64_t so, d;
          Offsets(outer, o, so, d);
          std::memcpy(dst + d, src + so, static_cast<size_t>(len) * sizeof(float));
        }
      });
      return Status::Ok();
    }
    // A 2-D transpose per outer index: rows along the output's innermost axis (input axis
    // rp.back()), columns along the input's innermost axis.
    const size_t row_axis = static_cast<size_t>(rp.back());
    const int64_t n_rows = dims[row_axis], n_cols = dims.back();
    const int64_t src_row_stride = src_strides[row_axis];
    const int64_t dst_col_stride = dst_strides.back();
    Axes outer;
    for (size_t i = 0; i < k; ++i) {
      const size_t a = static_cast<size_t>(rp[i]);
      if (a != row_axis && a != k - 1) outer.push_back({dims[a], src_strides[a], dst_strides[a]});
    }
    int64_t n_outer = 1;
    for (const Axis& ax : outer) n_outer *= ax.n;
    const int64_t row_tiles = (n_rows + kTile - 1) / kTile;
    const int64_t tile_work = kTile * n_cols;
    ctx.pool().ParallelFor(
        n_outer * row_tiles, std::max<int64_t>(1, kGrain / tile_work), [&](int64_t b, int64_t e) {
          for (int64_t t = b; t < e; ++t) {
            int64_t so, d;
            Offsets(outer, t / row_tiles, so, d);
            const int64_t r0 = (t % row_tiles) * kTile, r1 = std::min(n_rows, r0 + kTile);
            for (int64_t c0 = 0; c0 < n_cols; c0 += kTile) {
              const int64_t c1 = std::min(n_cols, c0 + kTile);
              for (int64_t c = c0; c < c1; ++c) {
                const float* s = src + so + c;
                float* q = dst + d + c * dst_col_stride;
                for (int64_t row = r0; row < r1; ++row) q[row] = s[row * src_row_stride];
              }
            }
          }
        });
    return Status::Ok();
  }

 private:
  bool has_perm_ = false;
  Shape perm_;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuTranspose() { return std::make_unique<Transpose>(); }

}  // namespace hone::cpu
