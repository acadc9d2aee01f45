// Reference data-movement kernels.
// ONNX operators: Transpose (1-22), Concat (1-22), Split (2-22; `split` an
// attribute before 13, an input from 13, num_outputs from 18), Slice (1-22;
// attributes before 10, inputs from 10), Gather (1-22), GatherElements (11-22),
// GatherND (11-22, batch_dims from 12), ScatterElements (11-22, reduction from
// 16), ScatterND (11-22, reduction from 16), Scatter (9-10), Tile (6-22), Pad
// (2-22; constant/reflect/edge, wrap from 19; pads an attribute before 11, an
// input from 11; axes from 18), NonZero (9-22), Trilu (14-22), OneHot (9-22),
// DepthToSpace (1-22, mode from 11), SpaceToDepth (1-22), ReverseSequence
// (10-22), Compress (9-22), Unique (11-22). Every index the model or its inputs
// control is checked before it is used.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/ref/common.h"
#include "kernels/ref/slice.h"

namespace hone::ref {
namespace {

// A read-only view of an int32 or int64 index tensor.
struct IndexView {
  const int32_t* i32 = nullptr;
  const int64_t* i64 = nullptr;
  int64_t operator[](int64_t k) const { return i64 ? i64[k] : static_cast<int64_t>(i32[k]); }
};

StatusOr<IndexView> Indices(const ComputeContext& ctx, const Tensor& t, const char* what) {
  IndexView v;
  if (t.dtype() == DataType::kInt64) {
    v.i64 = t.data<int64_t>();
  } else if (t.dtype() == DataType::kInt32) {
    v.i32 = t.data<int32_t>();
  } else {
    return ctx.Error("{} must be int32 or int64, got {}", what, DataTypeName(t.dtype()));
  }
  return v;
}

// Normalises index `i` (negative counts from the end) into [0, dim) or fails
// naming it.
inline bool FixIndex(int64_t& i, int64_t dim) {
  if (i < 0) i += dim;
  return i >= 0 && i < dim;
}

// Copies from `src` to `dst` (shape `out_shape`, C order) where output
// coordinate c_d in dim d reads source offset sum_d maps[d][c_d]; a map entry
// of -1 leaves the (pre-filled) output as is.
template <typename T>
void CopyByDimMaps(const T* src, T* dst, const Shape& out_shape,
                   const std::vector<std::vector<int64_t>>& maps) {
  const int64_t total = ShapeSize(out_shape);
  if (total == 0) return;
  const size_t rank = out_shape.size();
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t>& last = maps[rank - 1];
  const int64_t inner = out_shape[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < total; o += inner) {
    int64_t base = 0;
    bool skip = false;
    for (size_t d = 0; d + 1 < rank; ++d) {
      int64_t m = maps[d][static_cast<size_t>(idx[d])];
      if (m < 0) {
        skip = true;
        break;
      }
      base += m;
    }
    if (!skip) {
      for (int64_t j = 0; j < inner; ++j) {
        int64_t m = last[static_cast<size_t>(j)];
        if (m >= 0) dst[o + j] = src[base + m];
      }
    }
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < out_shape[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

// dst = transpose(src viewed with `in_shape`, perm): output dim i is input dim
// perm[i].
template <typename T>
void PermuteCopy(const T* src, T* dst, const Shape& in_shape, const std::vector<int64_t>& perm) {
  const size_t rank = in_shape.size();
  const Shape is = Strides(in_shape);
  Shape out_shape(rank), st(rank);
  for (size_t i = 0; i < rank; ++i) {
    out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
    st[i] = is[static_cast<size_t>(perm[i])];
  }
  const int64_t total = ShapeSize(out_shape);
  if (total == 0) return;
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = out_shape[rank - 1];
  const int64_t inner_stride = st[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  int64_t base = 0;
  for (int64_t o = 0; o < total; o += inner) {
    const T* s = src + base;
    for (int64_t j = 0; j < inner; ++j) dst[o + j] = s[j * inner_stride];
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      size_t ud = static_cast<size_t>(d);
      base += st[ud];
      if (++idx[ud] < out_shape[ud]) break;
      base -= st[ud] * idx[ud];
      idx[ud] = 0;
    }
  }
}

// Calls f(linear, idx) for every coordinate of `shape` in C order.
template <typename F>
void ForEachIndex(const Shape& shape, F&& f) {
  const int64_t total = ShapeSize(shape);
  Shape idx(shape.size(), 0);
  for (int64_t o = 0; o < total; ++o) {
    f(o, idx);
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
class Transpose final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_perm_ = ctx.has_attr("perm");
    perm_ = ctx.attr_ints("perm");
    std::vector<int64_t> sorted = perm_;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != static_cast<int64_t>(i))
        return ctx.Invalid("perm {} is not a permutation", ShapeToString(perm_));
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> perm = perm_;
    if (!has_perm_) {
      perm.resize(static_cast<size_t>(x.rank()));
      for (int64_t i = 0; i < x.rank(); ++i) perm[static_cast<size_t>(i)] = x.rank() - 1 - i;
    } else if (static_cast<int64_t>(perm.size()) != x.rank()) {
      return ctx.Error("perm {} does not match input rank {}", ShapeToString(perm), x.rank());
    }
    Shape out_shape(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.dim(perm[i]);
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      PermuteCopy<T>(x.data<T>(), y.data<T>(), x.shape(), perm);
      return Status::Ok();
    });
  }

 private:
  bool has_perm_ = false;
  std::vector<int64_t> perm_;
};

class Concat final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() >= 4 && !ctx.has_attr("axis"))
      return ctx.Invalid("attribute 'axis' is required");
    axis_ = ctx.attr_int("axis", 1);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    std::vector<const Tensor*> ins;
    for (int i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.input(i)) ins.push_back(ctx.input(i));
    if (ins.empty()) return ctx.Error("needs at least one input");
    const Tensor& first = *ins[0];
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, first.rank()));
    Shape out_shape = first.shape();
    out_shape[static_cast<size_t>(axis)] = 0;
    for (const Tensor* t : ins) {
      if (t->dtype() != first.dtype())
        return ctx.Error("inputs have different dtypes: {} and {}", DataTypeName(first.dtype()),
                         DataTypeName(t->dtype()));
      if (t->rank() != first.rank())
        return ctx.Error("inputs have different ranks: {} and {}", ShapeToString(first.shape()),
                         ShapeToString(t->shape()));
      for (int64_t d = 0; d < first.rank(); ++d)
        if (d != axis && t->dim(d) != first.dim(d))
          return ctx.Error("input shapes {} and {} differ outside axis {}",
                           ShapeToString(first.shape()), ShapeToString(t->shape()), axis);
      out_shape[static_cast<size_t>(axis)] += t->dim(axis);
    }
    Tensor& y = ctx.Output(0, first.dtype(), out_shape);
    const size_t ua = static_cast<size_t>(axis);
    const int64_t outer = Product(out_shape, 0, ua);
    const int64_t inner = Product(out_shape, ua + 1, out_shape.size());
    const int64_t out_row = out_shape[ua] * inner;
    int64_t col = 0;
    for (const Tensor* t : ins) {
      const int64_t row = t->dim(axis) * inner;
      if (row > 0)
        for (int64_t o = 0; o < outer; ++o) CopyElements(*t, o * row, y, o * out_row + col, row);
      col += row;
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = 1;
};

class Split final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    if (ctx.opset() < 13) {
      has_split_attr_ = ctx.has_attr("split");
      split_attr_ = ctx.attr_ints("split");
    }
    if (ctx.opset() >= 18 && ctx.has_attr("num_outputs")) {
      num_outputs_ = ctx.attr_int("num_outputs", 0);
      if (num_outputs_ < 1) return ctx.Invalid("num_outputs must be >= 1, got {}", num_outputs_);
      if (num_outputs_ != ctx.num_outputs())
        return ctx.Invalid("num_outputs is {} but the node has {} outputs", num_outputs_,
                           ctx.num_outputs());
      if (ctx.has_input(1)) return ctx.Invalid("num_outputs and input 'split' are exclusive");
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    const int64_t dim = x.dim(axis);
    const int64_t n = ctx.num_outputs();
    std::vector<int64_t> sizes;
    if (has_split_attr_) {
      sizes = split_attr_;
    } else if (ctx.input(1) != nullptr) {
      HONE_ASSIGN_OR_RETURN(sizes, ToInt64Vector(ctx.node(), *ctx.input(1), "split"));
    } else if (num_outputs_ > 0) {
      const int64_t chunk = (dim + n - 1) / n;
      for (int64_t i = 0; i < n; ++i)
        sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - chunk * i)));
    } else {
      if (dim % n != 0)
        return ctx.Error("dimension {} of axis {} cannot be split evenly into {} outputs", dim,
                         axis, n);
      sizes.assign(static_cast<size_t>(n), dim / n);
    }
    if (static_cast<int64_t>(sizes.size()) != n)
      return ctx.Error("split has {} entries but the node has {} outputs", sizes.size(), n);
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0 || __builtin_add_overflow(sum, s, &sum))
        return ctx.Error("split {} has a negative entry or overflows", ShapeToString(sizes));
    }
    if (sum != dim)
      return ctx.Error("split {} sums to {}, but axis {} has dimension {}", ShapeToString(sizes),
                       sum, axis, dim);
    const size_t ua = static_cast<size_t>(axis);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    int64_t col = 0;
    for (int64_t i = 0; i < n; ++i) {
      Shape shape = x.shape();
      shape[ua] = sizes[static_cast<size_t>(i)];
      Tensor& y = ctx.Output(static_cast<int>(i), x.dtype(), shape);
      const int64_t row = shape[ua] * inner;
      if (row > 0)
        for (int64_t o = 0; o < outer; ++o) CopyElements(x, o * dim * inner + col, y, o * row, row);
      col += row;
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = 0;
  bool has_split_attr_ = false;
  std::vector<int64_t> split_attr_;
  int64_t num_outputs_ = 0;
};

class Slice final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return spec_.Init(ctx); }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(SliceWindow w, spec_.Resolve(ctx, x));
    const size_t rank = static_cast<size_t>(x.rank());
    Tensor& y = ctx.Output(0, x.dtype(), w.out_shape);
    if (y.numel() == 0) return Status::Ok();
    const Shape is = Strides(x.shape());
    std::vector<std::vector<int64_t>> maps(rank);
    for (size_t d = 0; d < rank; ++d) {
      maps[d].resize(static_cast<size_t>(w.out_shape[d]));
      for (int64_t c = 0; c < w.out_shape[d]; ++c)
        maps[d][static_cast<size_t>(c)] = (w.start[d] + c * w.step[d]) * is[d];
    }
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      CopyByDimMaps<T>(x.data<T>(), y.data<T>(), w.out_shape, maps);
      return Status::Ok();
    });
  }

 private:
  SliceSpec spec_;
};

class Gather final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    HONE_ASSIGN_OR_RETURN(IndexView iv, Indices(ctx, ind, "indices"));
    const size_t ua = static_cast<size_t>(axis);
    const int64_t dim = x.dim(axis);
    const int64_t nidx = ind.numel();
    for (int64_t j = 0; j < nidx; ++j) {  // checked first, so a bad index writes nothing
      int64_t v = iv[j];
      if (!FixIndex(v, dim))
        return ctx.Error("indices[{}] = {} is out of range for axis {} of dimension {}", j, iv[j],
                         axis, dim);
    }
    Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
    out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
    out_shape.insert(out_shape.end(), x.shape().begin() + axis + 1, x.shape().end());
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    if (inner == 0) return Status::Ok();
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < nidx; ++j) {
          int64_t v = iv[j];
          FixIndex(v, dim);
          const T* s = src + (o * dim + v) * inner;
          T* d = dst + (o * nidx + j) * inner;
          std::copy(s, s + inner, d);
        }
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = 0;
};

// Checks that `ind` has data's rank and fits inside data on every axis but
// `axis`.
Status CheckElementwiseIndexShape(const ComputeContext& ctx, const Tensor& data, const Tensor& ind,
                                  int64_t axis) {
  if (ind.rank() != data.rank())
    return ctx.Error("indices rank {} differs from data rank {}", ind.rank(), data.rank());
  for (int64_t d = 0; d < data.rank(); ++d)
    if (d != axis && ind.dim(d) > data.dim(d))
      return ctx.Error("indices shape {} exceeds data shape {} on axis {}",
                       ShapeToString(ind.shape()), ShapeToString(data.shape()), d);
  return Status::Ok();
}

// For each element of `ind` (in C order), the data offset it addresses; fails
// on a bad index.
StatusOr<std::vector<int64_t>> ElementwiseOffsets(const ComputeContext& ctx, const Tensor& data,
                                                  const Tensor& ind, int64_t axis) {
  HONE_RETURN_IF_ERROR(CheckElementwiseIndexShape(ctx, data, ind, axis));
  HONE_ASSIGN_OR_RETURN(IndexView iv, Indices(ctx, ind, "indices"));
  const Shape ds = Strides(data.shape());
  const int64_t dim = data.dim(axis);
  std::vector<int64_t> offs(static_cast<size_t>(ind.numel()));
  Status bad;
  ForEachIndex(ind.shape(), [&](int64_t o, const Shape& idx) {
    if (!bad.ok()) return;
    int64_t k = iv[o];
    if (!FixIndex(k, dim)) {
      bad = ctx.Error("index {} is out of range for axis {} of dimension {}", iv[o], axis, dim);
      return;
    }
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      off += (static_cast<int64_t>(d) == axis ? k : idx[d]) * ds[d];
    offs[static_cast<size_t>(o)] = off;
  });
  if (!bad.ok()) return bad;
  return offs;
}

class GatherElements final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> offs, ElementwiseOffsets(ctx, x, ind, axis));
    Tensor& y = ctx.Output(0, x.dtype(), ind.shape());
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (size_t i = 0; i < offs.size(); ++i) dst[i] = src[offs[i]];
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = 0;
};

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Status ParseReduction(const InitContext& ctx, Reduction* r) {
  std::string s = ctx.attr_string("reduction", "none");
  if (s == "none") {
    *r = Reduction::kNone;
  } else if (s == "add") {
    *r = Reduction::kAdd;
  } else if (s == "mul") {
    *r = Reduction::kMul;
  } else if (s == "max") {
    *r = Reduction::kMax;
  } else if (s == "min") {
    *r = Reduction::kMin;
  } else {
    return ctx.Invalid("reduction '{}' is not one of none, add, mul, max, min", s);
  }
  return Status::Ok();
}

// dst[i] = reduce(dst[i], src[j]) over the pairs (offs[k] -> k-th source
// element, in order). `offs` maps a run of `count` contiguous source elements
// starting at k*count.
Status ScatterApply(const ComputeContext& ctx, Reduction red, const Tensor& upd, Tensor& y,
                    const std::vector<int64_t>& offs, int64_t count) {
  if (red == Reduction::kNone) {
    return VisitBySize(ctx.node(), y.dtype(), [&]<typename T>() {
      const T* src = upd.data<T>();
      T* dst = y.data<T>();
      for (size_t k = 0; k < offs.size(); ++k)
        std::copy(src + static_cast<int64_t>(k) * count, src + static_cast<int64_t>(k + 1) * count,
                  dst + offs[k]);
      return Status::Ok();
    });
  }
  auto body = [&]<typename T>() {
    using C = Acc<T>;
    const T* src = upd.data<T>();
    T* dst = y.data<T>();
    for (size_t k = 0; k < offs.size(); ++k)
      for (int64_t j = 0; j < count; ++j) {
        C a = static_cast<C>(dst[offs[k] + j]);
        C b = static_cast<C>(src[static_cast<int64_t>(k) * count + j]);
        C r = a;
        switch (red) {
          case Reduction::kAdd:
            r = static_cast<C>(a + b);
            break;
          case Reduction::kMul:
            r = static_cast<C>(a * b);
            break;
          case Reduction::kMax:
            r = b > a ? b : a;
            break;
          case Reduction::kMin:
            r = b < a ? b : a;
            break;
          case Reduction::kNone:
            r = b;
            break;
        }
        dst[offs[k] + j] = static_cast<T>(r);
      }
    return Status::Ok();
  };
  if (y.dtype() == DataType::kBool) return body.template operator()<bool>();
  return VisitNumeric(ctx.node(), y.dtype(), body);
}

class ScatterElements final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    return ParseReduction(ctx, &red_);
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    const Tensor& upd = *ctx.input(2);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    if (upd.shape() != ind.shape())
      return ctx.Error("updates shape {} differs from indices shape {}", ShapeToString(upd.shape()),
                       ShapeToString(ind.shape()));
    if (upd.dtype() != x.dtype())
      return ctx.Error("updates dtype {} differs from data dtype {}", DataTypeName(upd.dtype()),
                       DataTypeName(x.dtype()));
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> offs, ElementwiseOffsets(ctx, x, ind, axis));
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    CopyElements(x, 0, y, 0, x.numel());
    return ScatterApply(ctx, red_, upd, y, offs, 1);
  }

 private:
  int64_t axis_ = 0;
  Reduction red_ = Reduction::kNone;
};

// Shared by GatherND and ScatterND: the data offsets addressed by the index
// tuples in `ind` (last dimension k), per batch (the first `batch_dims` dims of
// data and indices).
struct NdPlan {
  int64_t k = 0;
  int64_t slice = 1;  // elements per addressed slice: prod(data.shape[b+k:])
  std::vector<int64_t> offs;
};

StatusOr<NdPlan> PlanNd(const ComputeContext& ctx, const Tensor& data, const Tensor& ind,
                        int64_t batch_dims) {
  NdPlan p;
  const int64_t r = data.rank(), q = ind.rank();
  if (q < 1) return ctx.Error("indices must have rank >= 1");
  p.k = ind.dim(q - 1);
  if (batch_dims < 0 || batch_dims >= std::min(r, q))
    return ctx.Error(
        "batch_dims {} must be less than the ranks of data ({}) "
        "and indices ({})",
        batch_dims, r, q);
  if (p.k < 0 || p.k > r - batch_dims)
    return ctx.Error("index tuples of length {} exceed data rank {} minus batch_dims {}", p.k, r,
                     batch_dims);
  for (int64_t d = 0; d < batch_dims; ++d)
    if (ind.dim(d) != data.dim(d))
      return ctx.Error("batch dimension {} differs: data {} vs indices {}", d, data.dim(d),
                       ind.dim(d));
  HONE_ASSIGN_OR_RETURN(IndexView iv, Indices(ctx, ind, "indices"));
  const size_t b = static_cast<size_t>(batch_dims);
  const int64_t batches = Product(data.shape(), 0, b);
  const int64_t batch_stride = Product(data.shape(), b, data.shape().size());
  const int64_t per_batch = Product(ind.shape(), b, static_cast<size_t>(q - 1));
  p.slice = Product(data.shape(), b + static_cast<size_t>(p.k), data.shape().size());
  const Shape ds = Strides(data.shape());
  p.offs.resize(static_cast<size_t>(batches * per_batch));
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < per_batch; ++t) {
      int64_t off = bi * batch_stride;
      int64_t tuple = bi * per_batch + t;
      for (int64_t j = 0; j < p.k; ++j) {
        int64_t v = iv[tuple * p.k + j];
        const int64_t dim = data.dim(batch_dims + j);
        if (!FixIndex(v, dim))
          return ctx.Error("index {} is out of range for data axis {} of dimension {}",
                           iv[tuple * p.k + j], batch_dims + j, dim);
        off += v * ds[b + static_cast<size_t>(j)];
      }
      p.offs[static_cast<size_t>(tuple)] = off;
    }
  return p;
}

class GatherND final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    batch_dims_ = ctx.attr_int("batch_dims", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    HONE_ASSIGN_OR_RETURN(NdPlan p, PlanNd(ctx, x, ind, batch_dims_));
    Shape out_shape(ind.shape().begin(), ind.shape().end() - 1);
    out_shape.insert(out_shape.end(), x.shape().begin() + batch_dims_ + p.k, x.shape().end());
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    if (static_cast<int64_t>(p.offs.size()) * p.slice != y.numel())
      return ctx.Error("internal: gathered {} slices of {} for output {}", p.offs.size(), p.slice,
                       ShapeToString(out_shape));
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (size_t i = 0; i < p.offs.size(); ++i)
        std::copy(src + p.offs[i], src + p.offs[i] + p.slice,
                  dst + static_cast<int64_t>(i) * p.slice);
      return Status::Ok();
    });
  }

 private:
  int64_t batch_dims_ = 0;
};

class ScatterND final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override { return ParseReduction(ctx, &red_); }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const Tensor& ind = *ctx.input(1);
    const Tensor& upd = *ctx.input(2);
    if (upd.dtype() != x.dtype())
      return ctx.Error("updates dtype {} differs from data dtype {}", DataTypeName(upd.dtype()),
                       DataTypeName(x.dtype()));
    HONE_ASSIGN_OR_RETURN(NdPlan p, PlanNd(ctx, x, ind, 0));
    Shape want(ind.shape().begin(), ind.shape().end() - 1);
    want.insert(want.end(), x.shape().begin() + p.k, x.shape().end());
    if (upd.shape() != want)
      return ctx.Error("updates shape {} must be {}", ShapeToString(upd.shape()),
                       ShapeToString(want));
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    CopyElements(x, 0, y, 0, x.numel());
    return ScatterApply(ctx, red_, upd, y, p.offs, p.slice);
  }

 private:
  Reduction red_ = Reduction::kNone;
};

class Tile final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> reps,
                          ToInt64Vector(ctx.node(), *ctx.input(1), "repeats"));
    if (static_cast<int64_t>(reps.size()) != x.rank())
      return ctx.Error("repeats has {} entries but the input has rank {}", reps.size(), x.rank());
    const size_t rank = reps.size();
    Shape out_shape(rank);
    for (size_t d = 0; d < rank; ++d) {
      if (reps[d] < 0) return ctx.Error("repeats {} has a negative entry", ShapeToString(reps));
      out_shape[d] = x.shape()[d] * reps[d];
      if (x.shape()[d] != 0 && out_shape[d] / x.shape()[d] != reps[d]) out_shape[d] = -1;
    }
    if (CheckedShapeSize(out_shape) < 0)
      return ctx.Error("repeats {} make too many elements", ShapeToString(reps));
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return Status::Ok();
    const Shape is = Strides(x.shape());
    std::vector<std::vector<int64_t>> maps(rank);
    for (size_t d = 0; d < rank; ++d) {
      maps[d].resize(static_cast<size_t>(out_shape[d]));
      for (int64_t c = 0; c < out_shape[d]; ++c)
        maps[d][static_cast<size_t>(c)] = (c % x.shape()[d]) * is[d];
    }
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      CopyByDimMaps<T>(x.data<T>(), y.data<T>(), out_shape, maps);
      return Status::Ok();
    });
  }
};

class Pad final : public Kernel {
 public:
  enum class Mode { kConstant, kReflect, kEdge, kWrap };
  Status Init(const InitContext& ctx) override {
    std::string m = ctx.attr_string("mode", "constant");
    if (m == "constant") {
      mode_ = Mode::kConstant;
    } else if (m == "reflect") {
      mode_ = Mode::kReflect;
    } else if (m == "edge") {
      mode_ = Mode::kEdge;
    } else if (m == "wrap" && ctx.opset() >= 19) {
      mode_ = Mode::kWrap;
    } else {
      return ctx.Invalid("mode '{}' is not supported at opset {}", m, ctx.opset());
    }
    from_inputs_ = ctx.opset() >= 11;
    if (!from_inputs_) {
      pads_ = ctx.attr_ints(ctx.has_attr("pads") ? "pads" : "paddings");
      value_ = ctx.attr_float("value", 0.0f);
    }
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    const int64_t rank = x.rank();
    std::vector<int64_t> pads = pads_;
    std::vector<int64_t> axes;
    const Tensor* cval = nullptr;
    if (from_inputs_) {
      if (!ctx.input(1)) return ctx.Error("input 'pads' is required");
      HONE_ASSIGN_OR_RETURN(pads, ToInt64Vector(ctx.node(), *ctx.input(1), "pads"));
      cval = ctx.input(2);
      if (cval && cval->numel() == 0) cval = nullptr;
      if (cval && cval->dtype() != x.dtype())
        return ctx.Error("constant_value dtype {} differs from data dtype {}",
                         DataTypeName(cval->dtype()), DataTypeName(x.dtype()));
      if (ctx.input(3)) {
        HONE_ASSIGN_OR_RETURN(axes, ToInt64Vector(ctx.node(), *ctx.input(3), "axes"));
      }
    }
    if (axes.empty() && (!from_inputs_ || !ctx.input(3))) {
      axes.resize(static_cast<size_t>(rank));
      std::iota(axes.begin(), axes.end(), 0);
    }
    if (pads.size() != 2 * axes.size())
      return ctx.Error("pads has {} entries, expected {} (2 per padded axis)", pads.size(),
                       2 * axes.size());
    const size_t urank = static_cast<size_t>(rank);
    std::vector<int64_t> begin(urank, 0), end(urank, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      HONE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(ctx.node(), axes[i], rank, "axes entry"));
      begin[static_cast<size_t>(a)] = pads[i];
      end[static_cast<size_t>(a)] = pads[i + axes.size()];
    }
    Shape out_shape(urank);
    for (size_t d = 0; d < urank; ++d) {
      int64_t v = 0;
      if (__builtin_add_overflow(x.shape()[d], begin[d], &v) ||
          __builtin_add_overflow(v, end[d], &v))
        v = -1;
      out_shape[d] = v;
    }
    if (CheckedShapeSize(out_shape) < 0)
      return ctx.Error("pads {} make a negative dimension or too many elements",
                       ShapeToString(pads));
    const Shape is = Strides(x.shape());
    std::vector<std::vector<int64_t>> maps(urank);
    bool any_fill = false;
    for (size_t d = 0; d < urank; ++d) {
      const int64_t dim = x.shape()[d];
      maps[d].resize(static_cast<size_t>(out_shape[d]));
      for (int64_t c = 0; c < out_shape[d]; ++c) {
        int64_t i = c - begin[d];
        if (i < 0 || i >= dim) {
          if (mode_ != Mode::kConstant && dim == 0)
            return ctx.Error("cannot pad the empty axis {} in mode {}", d,
                             mode_ == Mode::kEdge ? "edge" : "reflect/wrap");
          switch (mode_) {
            case Mode::kConstant:
              i = -1;
              any_fill = true;
              break;
            case Mode::kEdge:
              i = std::clamp<int64_t>(i, 0, dim - 1);
              break;
            case Mode::kWrap:
              i = ((i % dim) + dim) % dim;
              break;
            case Mode::kReflect:
              if (dim == 1) {
                i = 0;
              } else {
                const int64_t period = 2 * (dim - 1);
                i = ((i % period) + period) % period;
                if (i >= dim) i = period - i;
              }
              break;
          }
        }
        maps[d][static_cast<size_t>(c)] = i < 0 ? -1 : i * is[d];
      }
    }
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    return VisitAllWithString(ctx.node(), x.dtype(), [&]<typename T>() {
      T* dst = y.data<T>();
      if (any_fill) {
        T fill{};
        if constexpr (!std::is_same_v<T, std::string>) {
          if (cval)
            fill = cval->data<T>()[0];
          else
            fill = static_cast<T>(static_cast<Acc<T>>(value_));
        } else {
          if (cval) fill = cval->data<T>()[0];
        }
        std::fill(dst, dst + y.numel(), fill);
      }
      CopyByDimMaps<T>(x.data<T>(), dst, out_shape, maps);
      return Status::Ok();
    });
  }

 private:
  Mode mode_ = Mode::kConstant;
  bool from_inputs_ = true;
  std::vector<int64_t> pads_;
  float value_ = 0;
};

template <typename T>
bool IsNonZero(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return !v.empty();
  } else {
    return static_cast<Acc<T>>(v) != static_cast<Acc<T>>(0);
  }
}

class NonZero final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    std::vector<int64_t> hits;
    HONE_RETURN_IF_ERROR(VisitAll(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* p = x.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i)
        if (IsNonZero(p[i])) hits.push_back(i);
      return Status::Ok();
    }));
    const int64_t rank = std::max<int64_t>(x.rank(), 1);
    const int64_t n = static_cast<int64_t>(hits.size());
    Tensor& y = ctx.Output(0, DataType::kInt64, {rank, n});
    int64_t* dst = y.data<int64_t>();
    if (x.rank() == 0) return Status::Ok();  // a scalar reports index 0 for each hit
    const Shape st = Strides(x.shape());
    for (int64_t j = 0; j < n; ++j) {
      int64_t rem = hits[static_cast<size_t>(j)];
      for (int64_t d = 0; d < rank; ++d) {
        dst[d * n + j] = rem / st[static_cast<size_t>(d)];
        rem %= st[static_cast<size_t>(d)];
      }
    }
    return Status::Ok();
  }
};

class Trilu final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    upper_ = ctx.attr_int("upper", 1) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() < 2) return ctx.Error("input must have rank >= 2, got {}", x.rank());
    int64_t k = 0;
    if (const Tensor* kt = ctx.input(1)) {
      if (kt->numel() != 1) return ctx.Error("k must be a scalar");
      HONE_ASSIGN_OR_RETURN(IndexView kv, Indices(ctx, *kt, "k"));
      k = kv[0];
    }
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
    const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t m = 0; m < mats; ++m)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) {
            const bool keep = upper_ ? j - i >= k : j - i <= k;
            const int64_t o = (m * rows + i) * cols + j;
            if (keep) dst[o] = src[o];
          }
      return Status::Ok();
    });
  }

 private:
  bool upper_ = true;
};

class OneHot final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", -1);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& ind = *ctx.input(0);
    const Tensor& values = *ctx.input(2);
    HONE_ASSIGN_OR_RETURN(double depth_f, ToScalar(ctx.node(), *ctx.input(1), "depth"));
    constexpr double kMaxDepth = 1e9;
    if (!(depth_f >= 1) || depth_f > kMaxDepth)
      return ctx.Error("depth {} must be a positive number", depth_f);
    const int64_t depth = static_cast<int64_t>(depth_f);
    if (values.numel() != 2)
      return ctx.Error("values must have 2 elements [off, on], got shape {}",
                       ShapeToString(values.shape()));
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, ind.rank() + 1, "axis"));
    std::vector<int64_t> idx(static_cast<size_t>(ind.numel()));
    HONE_RETURN_IF_ERROR(VisitNumeric(ctx.node(), ind.dtype(), [&]<typename T>() {
      const T* p = ind.data<T>();
      for (size_t i = 0; i < idx.size(); ++i)
        idx[i] = static_cast<int64_t>(static_cast<double>(static_cast<Acc<T>>(p[i])));
      return Status::Ok();
    }));
    Shape out_shape = ind.shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    Tensor& y = ctx.Output(0, values.dtype(), out_shape);
    const int64_t outer = Product(ind.shape(), 0, static_cast<size_t>(axis));
    const int64_t inner = Product(ind.shape(), static_cast<size_t>(axis), ind.shape().size());
    return VisitBySize(ctx.node(), values.dtype(), [&]<typename T>() {
      const T off = values.data<T>()[0], on = values.data<T>()[1];
      T* dst = y.data<T>();
      std::fill(dst, dst + y.numel(), off);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t v = idx[static_cast<size_t>(o * inner + i)];
          if (v < 0) v += depth;
          if (v >= 0 && v < depth) dst[(o * depth + v) * inner + i] = on;
        }
      return Status::Ok();
    });
  }

 private:
  int64_t axis_ = -1;
};

class DepthToSpace final : public Kernel {
 public:
  explicit DepthToSpace(bool to_space) : to_space_(to_space) {}
  Status Init(const InitContext& ctx) override {
    if (!ctx.has_attr("blocksize")) return ctx.Invalid("attribute 'blocksize' is required");
    b_ = ctx.attr_int("blocksize", 0);
    if (b_ < 1) return ctx.Invalid("blocksize must be >= 1, got {}", b_);
    std::string mode = ctx.attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.Invalid("mode '{}' must be DCR or CRD", mode);
    crd_ = mode == "CRD";
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() != 4) return ctx.Error("input must be 4-D, got {}", ShapeToString(x.shape()));
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), b = b_;
    Shape tmp, perm, out_shape;
    if (to_space_) {
      if (b > c || c % b != 0 || (c / b) % b != 0)
        return ctx.Error("channels {} are not divisible by blocksize^2 (blocksize {})", c, b);
      const int64_t cc = c / (b * b);
      if (crd_) {
        tmp = {n, cc, b, b, h, w};
        perm = {0, 1, 4, 2, 5, 3};
      } else {
        tmp = {n, b, b, cc, h, w};
        perm = {0, 3, 4, 1, 5, 2};
      }
      out_shape = {n, cc, h * b, w * b};
    } else {
      if (h % b != 0 || w % b != 0 || (h == 0 && b > 1) || (w == 0 && b > 1))
        return ctx.Error("spatial dims {}x{} are not divisible by blocksize {}", h, w, b);
      if (CheckedShapeSize({n, c, b, b, h / b, w / b}) < 0)
        return ctx.Error("blocksize {} makes too many channels", b);
      tmp = {n, c, h / b, b, w / b, b};
      perm = {0, 3, 5, 1, 2, 4};
      out_shape = {n, c * b * b, h / b, w / b};
    }
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      PermuteCopy<T>(x.data<T>(), y.data<T>(), tmp, perm);
      return Status::Ok();
    });
  }

 private:
  bool to_space_;
  int64_t b_ = 1;
  bool crd_ = false;
};

class ReverseSequence final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    batch_axis_ = ctx.attr_int("batch_axis", 1);
    time_axis_ = ctx.attr_int("time_axis", 0);
    if ((batch_axis_ != 0 && batch_axis_ != 1) || (time_axis_ != 0 && time_axis_ != 1) ||
        batch_axis_ == time_axis_)
      return ctx.Invalid("batch_axis {} and time_axis {} must be 0 and 1 in some order",
                         batch_axis_, time_axis_);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x = *ctx.input(0);
    if (x.rank() < 2) return ctx.Error("input must have rank >= 2, got {}", x.rank());
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> lens,
                          ToInt64Vector(ctx.node(), *ctx.input(1), "sequence_lens"));
    const int64_t batch = x.dim(batch_axis_), time = x.dim(time_axis_);
    if (static_cast<int64_t>(lens.size()) != batch)
      return ctx.Error("sequence_lens has {} entries, expected batch size {}", lens.size(), batch);
    for (int64_t l : lens)
      if (l < 0 || l > time) return ctx.Error("sequence length {} is outside [0, {}]", l, time);
    Tensor& y = ctx.Output(0, x.dtype(), x.shape());
    const Shape st = Strides(x.shape());
    const size_t ub = static_cast<size_t>(batch_axis_), ut = static_cast<size_t>(time_axis_);
    return VisitBySize(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      ForEachIndex(x.shape(), [&](int64_t o, const Shape& idx) {
        const int64_t l = lens[static_cast<size_t>(idx[ub])];
        const int64_t t = idx[ut];
        dst[o] = t < l ? src[o + (l - 1 - 2 * t) * st[ut]] : src[o];
      });
      return Status::Ok();
    });
  }

 private:
  int64_t batch_axis_ = 1, time_axis_ = 0;
};

class Compress final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    has_axis_ = ctx.has_attr("axis");
    axis_ = ctx.attr_int("axis", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x0 = *ctx.input(0);
    const Tensor& cond = *ctx.input(1);
    if (cond.dtype() != DataType::kBool)
      return ctx.Error("condition must be bool, got {}", DataTypeName(cond.dtype()));
    if (cond.rank() != 1)
      return ctx.Error("condition must be 1-D, got {}", ShapeToString(cond.shape()));
    Tensor x = has_axis_ ? x0 : x0.Reshaped({x0.numel()});
    int64_t axis = 0;
    if (has_axis_) {
      HONE_ASSIGN_OR_RETURN(axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    }
    const int64_t dim = x.dim(axis);
    const bool* c = cond.data<bool>();
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < cond.numel(); ++i) {
      if (!c[i]) continue;
      if (i >= dim)
        return ctx.Error("condition selects index {} beyond dimension {} of axis {}", i, dim, axis);
      keep.push_back(i);
    }
    Shape out_shape = x.shape();
    out_shape[static_cast<size_t>(axis)] = static_cast<int64_t>(keep.size());
    Tensor& y = ctx.Output(0, x.dtype(), out_shape);
    const int64_t outer = Product(x.shape(), 0, static_cast<size_t>(axis));
    const int64_t inner = Product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
    const int64_t nk = static_cast<int64_t>(keep.size());
    if (inner == 0) return Status::Ok();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < nk; ++j)
        CopyElements(x, (o * dim + keep[static_cast<size_t>(j)]) * inner, y, (o * nk + j) * inner,
                     inner);
    return Status::Ok();
  }

 private:
  bool has_axis_ = false;
  int64_t axis_ = 0;
};

class Unique final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    sorted_ = ctx.attr_int("sorted", 1) != 0;
    has_axis_ = ctx.has_attr("axis");
    axis_ = ctx.attr_int("axis", 0);
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& x0 = *ctx.input(0);
    Tensor x = has_axis_ ? x0 : x0.Reshaped({x0.numel()});
    int64_t axis = 0;
    if (has_axis_) {
      HONE_ASSIGN_OR_RETURN(axis, NormalizeAxis(ctx.node(), axis_, x.rank()));
    }
    const size_t ua = static_cast<size_t>(axis);
    const int64_t outer = Product(x.shape(), 0, ua);
    const int64_t dim = x.dim(axis);
    const int64_t inner = Product(x.shape(), ua + 1, x.shape().size());
    return VisitAllWithString(ctx.node(), x.dtype(), [&]<typename T>() {
      const T* p = x.data<T>();
      auto elem = [&](int64_t item, int64_t o, int64_t i) {
        if constexpr (std::is_same_v<T, std::string>) {
          return p[(o * dim + item) * inner + i];
        } else {
          return static_cast<Acc<T>>(p[(o * dim + item) * inner + i]);
        }
      };
      // -1 / 0 / 1 lexicographic comparison of two items along the axis.
      auto cmp = [&](int64_t a, int64_t b) {
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            auto u = elem(a, o, i);
            auto v = elem(b, o, i);
            if (u < v) return -1;
            if (v < u) return 1;
          }
        return 0;
      };
      // First occurrences in input order, found through a sorted index.
      std::vector<int64_t> order(static_cast<size_t>(dim));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
      std::vector<int64_t> group_of(static_cast<size_t>(dim));  // sorted group id per item
      std::vector<int64_t> group_first, group_count;
      for (size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
          group_first.push_back(order[k]);  // stable sort: the smallest index comes first
          group_count.push_back(0);
        }
        group_of[static_cast<size_t>(order[k])] = static_cast<int64_t>(group_first.size()) - 1;
        group_count.back()++;
      }
      const int64_t u = static_cast<int64_t>(group_first.size());
      // Output order of the groups: sorted, or by first occurrence.
      std::vector<int64_t> out_group(static_cast<size_t>(u));
      std::iota(out_group.begin(), out_group.end(), 0);
      if (!sorted_)
        std::sort(out_group.begin(), out_group.end(), [&](int64_t a, int64_t b) {
          return group_first[static_cast<size_t>(a)] < group_first[static_cast<size_t>(b)];
        });
      std::vector<int64_t> pos_of_group(static_cast<size_t>(u));
      for (int64_t k = 0; k < u; ++k) pos_of_group[static_cast<size_t>(out_group[k])] = k;

      Shape y_shape = x.shape();
      y_shape[ua] = u;
      Tensor& y = ctx.Output(0, x.dtype(), y_shape);
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < u; ++k) {
          const int64_t item = group_first[static_cast<size_t>(out_group[static_cast<size_t>(k)])];
          for (int64_t i = 0; i < inner; ++i)
            dst[(o * u + k) * inner + i] = p[(o * dim + item) * inner + i];
        }
      if (ctx.num_outputs() > 1) {
        Tensor& ind = ctx.Output(1, DataType::kInt64, {u});
        for (int64_t k = 0; k < u; ++k)
          ind.data<int64_t>()[k] = group_first[static_cast<size_t>(out_group[k])];
      }
      if (ctx.num_outputs() > 2) {
        Tensor& inv = ctx.Output(2, DataType::kInt64, {dim});
        for (int64_t k = 0; k < dim; ++k)
          inv.data<int64_t>()[k] = pos_of_group[static_cast<size_t>(group_of[k])];
      }
      if (ctx.num_outputs() > 3) {
        Tensor& cnt = ctx.Output(3, DataType::kInt64, {u});
        for (int64_t k = 0; k < u; ++k)
          cnt.data<int64_t>()[k] = group_count[static_cast<size_t>(out_group[k])];
      }
      return Status::Ok();
    });
  }

 private:
  bool sorted_ = true;
  bool has_axis_ = false;
  int64_t axis_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefTranspose() { return std::make_unique<Transpose>(); }
std::unique_ptr<Kernel> CreateRefConcat() { return std::make_unique<Concat>(); }
std::unique_ptr<Kernel> CreateRefSplit() { return std::make_unique<Split>(); }
std::unique_ptr<Kernel> CreateRefSlice() { return std::make_unique<Slice>(); }
std::unique_ptr<Kernel> CreateRefGather() { return std::make_unique<Gather>(); }
std::unique_ptr<Kernel> CreateRefGatherElements() { return std::make_unique<GatherElements>(); }
std::unique_ptr<Kernel> CreateRefGatherND() { return std::make_unique<GatherND>(); }
std::unique_ptr<Kernel> CreateRefScatterElements() { return std::make_unique<ScatterElements>(); }
std::unique_ptr<Kernel> CreateRefScatter() { return std::make_unique<ScatterElements>(); }
std::unique_ptr<Kernel> CreateRefScatterND() { return std::make_unique<ScatterND>(); }
std::unique_ptr<Kernel> CreateRefTile() { return std::make_unique<Tile>(); }
std::unique_ptr<Kernel> CreateRefPad() { return std::make_unique<Pad>(); }
std::unique_ptr<Kernel> CreateRefNonZero() { return std::make_unique<NonZero>(); }
std::unique_ptr<Kernel> CreateRefTrilu() { return std::make_unique<Trilu>(); }
std::unique_ptr<Kernel> CreateRefOneHot() { return std::make_unique<OneHot>(); }
std::unique_ptr<Kernel> CreateRefDepthToSpace() { return std::make_unique<DepthToSpace>(true); }
std::unique_ptr<Kernel> CreateRefSpaceToDepth() { return std::make_unique<DepthToSpace>(false); }
std::unique_ptr<Kernel> CreateRefReverseSequence() { return std::make_unique<ReverseSequence>(); }
std::unique_ptr<Kernel> CreateRefCompress() { return std::make_unique<Compress>(); }
std::unique_ptr<Kernel> CreateRefUnique() { return std::make_unique<Unique>(); }

}  // namespace hone::ref
