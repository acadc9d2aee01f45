// Fast float32 com.hone Attention (version 1; made by passes/fuse_attention.cc, reference in
// kernels/ref/attention.cc): Softmax(scale * Q K^T + mask, last axis) V for Q [..., Sq, D],
// K [..., Sk, D], V [..., Sk, Dv] with equal batch dims and a mask that broadcasts to the scores
// [..., Sq, Sk] without enlarging them. Other shapes and dtypes decline to the reference at
// run time.
//
// The scores are never materialised whole: each task takes one batch item (one head) and a
// block of query rows, computes that block's scores into a thread-local buffer that stays in
// cache, scales them and adds the mask while taking each row's max, exponentiates, and
// multiplies the unnormalised probabilities by V, scaling each output row by 1 / its sum at the
// end. K is packed transposed (and V, when Dv is not a whole number of tiles, padded) once per
// head and task chunk; the products run on a small register-tiled GEMM (8 x 32 outputs per tile
// with AVX-512, 2 x 32 otherwise) written as plain loops that simd.h's Vectorized() compiles
// per ISA. Tasks (heads x row blocks) are split over the thread pool.
#include <algorithm>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernel.h"

namespace hone::cpu {
namespace {

constexpr int64_t kTileCols = 32;       // outputs per tile row: two AVX-512 registers
constexpr int64_t kScoreBlock = 16384;  // floats of scores per task (64 KiB, in L2)
constexpr int64_t kMaxBlockRows = 64;   // query rows per task at most
constexpr int64_t kTasksPerThread = 2;  // row blocks shrink until there are this many
constexpr int kRowsAvx512 = 8;          // tile rows: 16 accumulator registers of 32
constexpr int kRowsNarrow = 2;          // AVX2 / SSE: 8 (16) accumulators of 16 (32)

int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// c[r][j] = sum_p a[r][p] * b[p][j] for r < kRows, j < kTileCols; a rows lda apart, b rows ldb.
template <int kRows>
inline void Tile(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b,
                 int64_t ldb, float* __restrict c, int64_t ldc) {
  float acc[kRows][kTileCols] = {};
  for (int64_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    for (int r = 0; r < kRows; ++r) {
      const float av = a[r * lda + p];
      for (int64_t j = 0; j < kTileCols; ++j) acc[r][j] += av * bp[j];
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int64_t j = 0; j < kTileCols; ++j) c[r * ldc + j] = acc[r][j];
}

// C [m, n] = A [m, k] B [k, n]; m a multiple of kRows, n of kTileCols.
template <int kRows>
inline void Gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; i += kRows)
    for (int64_t j = 0; j < n; j += kTileCols)
      Tile<kRows>(k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc);
}

constexpr float kZero = 0.0f;

// s[j] = s[j] * scale + m[j * m_stride] (m_stride 1, or 0 for one value) for j < n; returns the
// largest (NaN is not propagated; -inf when every entry is NaN or -inf).
inline float ScaleAddMax(float* __restrict s, const float* __restrict m, int64_t m_stride,
                         float scale, int64_t n) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = kNegInf;
  int64_t j = 0;
  if (m_stride == 1) {
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float x = s[j + l] * scale + m[j + l];
        s[j + l] = x;
        acc[l] = x > acc[l] ? x : acc[l];
      }
    for (; j < n; ++j) s[j] = s[j] * scale + m[j];
  } else {
    const float m0 = m[0];
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float x = s[j + l] * scale + m0;
        s[j + l] = x;
        acc[l] = x > acc[l] ? x : acc[l];
      }
    for (; j < n; ++j) s[j] = s[j] * scale + m0;
  }
  // A tree over the lanes: a chain of kLanes dependent maxima per row would cost more than the
  // row's vector work.
  static_assert(kLanes == 16);
  for (int l = 0; l < 8; ++l) acc[l] = acc[l + 8] > acc[l] ? acc[l + 8] : acc[l];
  for (int l = 0; l < 4; ++l) acc[l] = acc[l + 4] > acc[l] ? acc[l + 4] : acc[l];
  for (int l = 0; l < 2; ++l) acc[l] = acc[l + 2] > acc[l] ? acc[l + 2] : acc[l];
  float mx = acc[1] > acc[0] ? acc[1] : acc[0];
  for (int64_t t = n - n % kLanes; t < n; ++t) mx = s[t] > mx ? s[t] : mx;
  return mx;
}

// s[j] = e^(s[j] - mx) for j < n; returns their sum.
inline float ExpSum(float* __restrict s, float mx, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float e = ExpF(s[j + l] - mx);
      s[j + l] = e;
      acc[l] += e;
    }
  for (int l = 0; l < 8; ++l) acc[l] += acc[l + 8];
  for (int l = 0; l < 4; ++l) acc[l] += acc[l + 4];
  for (int l = 0; l < 2; ++l) acc[l] += acc[l + 2];
  float sum = acc[0] + acc[1];
  for (; j < n; ++j) {
    s[j] = ExpF(s[j] - mx);
    sum += s[j];
  }
  return sum;
}

// Everything a task needs, fixed per Compute.
struct Problem {
  const float* q;
  const float* k;
  const float* v;
  const float* mask;  // nullptr when there is none
  float* dst;
  float scale;
  int64_t sq, sk, d, dv;
  int64_t skp, dvp;  // Sk and Dv rounded up to whole tiles
  bool pack_v;       // Dv is not a whole number of tiles: V is copied, padded
  int64_t block_rows, blocks_per_head;
  // The mask's element strides over the scores' batch dims, rows and columns (0 = broadcast).
  Shape batch_dims, mask_batch_strides;
  int64_t mask_row_stride = 0, mask_col_stride = 0;

  int64_t MaskOffset(int64_t head) const {
    int64_t off = 0;
    for (size_t i = batch_dims.size(); i-- > 0;) {
      off += (head % batch_dims[i]) * mask_batch_strides[i];
      head /= batch_dims[i];
    }
    return off;
  }
};

// The per-thread buffers of one task chunk, in floats.
struct Scratch {
  float* kt;   // [D, Skp]: K of the current head, transposed, columns past Sk zero
  float* vp;   // [Sk, Dvp] when pack_v
  float* qp;   // [block rows, D]: the last block's query rows, padded with zero rows
  float* s;    // [block rows, Skp]: scores, then unnormalised probabilities
  float* o;    // [block rows, Dvp]
  float* inv;  // [block rows]: 1 / each row's sum
};

// K^T of one head into w.kt, and V padded into w.vp when pack_v.
void PackHead(const Problem& p, int64_t head, const Scratch& w) {
  const float* k = p.k + head * p.sk * p.d;
  for (int64_t j = 0; j < p.d; ++j) {
    float* __restrict row = w.kt + j * p.skp;
    for (int64_t s = 0; s < p.sk; ++s) row[s] = k[s * p.d + j];
    for (int64_t s = p.sk; s < p.skp; ++s) row[s] = 0.0f;
  }
  if (p.pack_v) {
    const float* v = p.v + head * p.sk * p.dv;
    for (int64_t s = 0; s < p.sk; ++s) {
      float* __restrict row = w.vp + s * p.dvp;
      for (int64_t j = 0; j < p.dv; ++j) row[j] = v[s * p.dv + j];
      for (int64_t j = p.dv; j < p.dvp; ++j) row[j] = 0.0f;
    }
  }
}

template <int kRows>
void RunBlock(const Problem& p, int64_t head, int64_t block, const Scratch& w) {
  const int64_t r0 = block * p.block_rows;
  const int64_t rows = std::min(p.block_rows, p.sq - r0);
  const int64_t rows_padded = RoundUp(rows, kRows);
  // Q is read in place unless the block's rows are not whole tiles.
  const float* q = p.q + (head * p.sq + r0) * p.d;
  if (rows != rows_padded) {
    std::copy(q, q + rows * p.d, w.qp);
    std::fill(w.qp + rows * p.d, w.qp + rows_padded * p.d, 0.0f);
    q = w.qp;
  }
  Gemm<kRows>(rows_padded, p.skp, p.d, q, p.d, w.kt, p.skp, w.s, p.skp);
  const float* mask = p.mask ? p.mask + p.MaskOffset(head) + r0 * p.mask_row_stride : nullptr;
  for (int64_t i = 0; i < rows; ++i) {
    float* s = w.s + i * p.skp;
    const float mx =
        mask ? ScaleAddMax(s, mask + i * p.mask_row_stride, p.mask_col_stride, p.scale, p.sk)
             : ScaleAddMax(s, &kZero, 0, p.scale, p.sk);
    w.inv[i] = 1.0f / ExpSum(s, mx, p.sk);
  }
  const float* v = p.pack_v ? w.vp : p.v + head * p.sk * p.dv;
  Gemm<kRows>(rows_padded, p.dvp, p.sk, w.s, p.skp, v, p.pack_v ? p.dvp : p.dv, w.o, p.dvp);
  float* dst = p.dst + (head * p.sq + r0) * p.dv;
  for (int64_t i = 0; i < rows; ++i) {
    const float inv = w.inv[i];
    const float* __restrict o = w.o + i * p.dvp;
    float* __restrict y = dst + i * p.dv;
    for (int64_t j = 0; j < p.dv; ++j) y[j] = o[j] * inv;
  }
}

template <int kRows>
void Run(ThreadPool& pool, const Problem& p, int64_t heads) {
  const int64_t tasks = heads * p.blocks_per_head;
  pool.ParallelFor(tasks, 1, [&](int64_t begin, int64_t end) {
    // Grows to the largest problem seen on this thread, then is reused.
    thread_local std::vector<float> buffer;
    const int64_t rows = p.block_rows;
    const size_t kt = static_cast<size_t>(p.d * p.skp);
    const size_t vp = p.pack_v ? static_cast<size_t>(p.sk * p.dvp) : 0;
    const size_t qp = static_cast<size_t>(rows * p.d), s = static_cast<size_t>(rows * p.skp);
    const size_t o = static_cast<size_t>(rows * p.dvp), inv = static_cast<size_t>(rows);
    const size_t total = kt + vp + qp + s + o + inv;
    if (buffer.size() < total) buffer.resize(total);
    Scratch w;
    w.kt = buffer.data();
    w.vp = w.kt + kt;
    w.qp = w.vp + vp;
    w.s = w.qp + qp;
    w.o = w.s + s;
    w.inv = w.o + o;
    Vectorized([&] {
      int64_t packed = -1;
      for (int64_t t = begin; t < end; ++t) {
        const int64_t head = t / p.blocks_per_head;
        if (head != packed) {
          PackHead(p, head, w);
          packed = head;
        }
        RunBlock<kRows>(p, head, t % p.blocks_per_head, w);
      }
    });
  });
}

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
    const Tensor& q = *ctx.input(0);
    const Tensor& k = *ctx.input(1);
    const Tensor& v = *ctx.input(2);
    const Tensor* mask = ctx.input(3);
    for (const Tensor* t : {&q, &k, &v, mask})
      if (t && t->dtype() != DataType::kFloat32) return Decline("not float32");
    const int64_t rank = q.rank();
    if (rank < 2 || k.rank() != rank || v.rank() != rank) return Decline("ranks differ");
    const size_t r = static_cast<size_t>(rank);
    const Shape batch(q.shape().begin(), q.shape().end() - 2);
    for (const Tensor* t : {&k, &v})
      if (!std::equal(batch.begin(), batch.end(), t->shape().begin()))
        return Decline("Q, K and V batch dims differ");
    Problem p;
    p.sq = q.dim(rank - 2);
    p.d = q.dim(rank - 1);
    p.sk = k.dim(rank - 2);
    p.dv = v.dim(rank - 1);
    if (k.dim(rank - 1) != p.d || v.dim(rank - 2) != p.sk) return Decline("Q, K, V mismatch");
    if (q.numel() == 0 || k.numel() == 0 || v.numel() == 0) return Decline("empty input");
    if (mask) {
      // The mask broadcasts to [batch..., Sq, Sk] and must not enlarge it.
      Shape target = batch;
      target.push_back(p.sq);
      target.push_back(p.sk);
      if (mask->rank() > rank) return Decline("mask of higher rank than the scores");
      Shape strides(r, 0);
      int64_t stride = 1;
      for (size_t i = 0; i < static_cast<size_t>(mask->rank()); ++i) {
        const size_t md = static_cast<size_t>(mask->rank()) - 1 - i, td = r - 1 - i;
        const int64_t n = mask->shape()[md];
        if (n != target[td] && n != 1) return Decline("mask does not broadcast to the scores");
        strides[td] = n == 1 ? 0 : stride;
        stride *= n;
      }
      p.mask_batch_strides.assign(strides.begin(), strides.end() - 2);
      p.mask_row_stride = strides[r - 2];
      p.mask_col_stride = strides[r - 1];
      // A single key column: its stride does not matter, and 1 reads the one element.
      if (p.sk == 1) p.mask_col_stride = 1;
    }
    Shape out_shape = batch;
    out_shape.push_back(p.sq);
    out_shape.push_back(p.dv);
    Tensor& y = ctx.OutputUninitialized(0, DataType::kFloat32, out_shape);
    p.q = q.data<float>();
    p.k = k.data<float>();
    p.v = v.data<float>();
    p.mask = mask ? mask->data<float>() : nullptr;
    p.dst = y.data<float>();
    p.scale = scale_;
    p.batch_dims = batch;
    p.skp = RoundUp(p.sk, kTileCols);
    p.dvp = RoundUp(p.dv, kTileCols);
    p.pack_v = p.dvp != p.dv;
    int64_t heads = 1;
    for (int64_t b : batch) heads *= b;
    const bool wide = ActiveIsa() == CpuIsa::kAvx512;
    const int64_t tile_rows = wide ? kRowsAvx512 : kRowsNarrow;
    // Row blocks: as many rows as keep the scores block in cache, fewer when there would
    // not be enough tasks for the threads.
    int64_t rows =
        std::clamp(kScoreBlock / p.skp / tile_rows * tile_rows, tile_rows, kMaxBlockRows);
    rows = std::min(rows, RoundUp(p.sq, tile_rows));
    const int64_t want_tasks = kTasksPerThread * ctx.pool().parallelism();
    while (rows > tile_rows && heads * ((p.sq + rows - 1) / rows) < want_tasks)
      rows = std::max(tile_rows, RoundUp(rows / 2, tile_rows));
    p.block_rows = rows;
    p.blocks_per_head = (p.sq + rows - 1) / rows;
    if (wide)
      Run<kRowsAvx512>(ctx.pool(), p, heads);
    else
      Run<kRowsNarrow>(ctx.pool(), p, heads);
    return Status::Ok();
  }

 private:
  float scale_ = 1.0f;
};

}  // namespace

std::unique_ptr<Kernel> CreateCpuAttention() { return std::make_unique<Attention>(); }

}  // namespace hone::cpu
