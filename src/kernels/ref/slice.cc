#include "kernels/ref/slice.h"

#include <algorithm>
#include <numeric>

#include "kernels/ref/common.h"

namespace hone::ref {

Status SliceSpec::Init(const InitContext& ctx) {
  from_inputs_ = ctx.opset() >= 10;
  if (!from_inputs_) {
    if (!ctx.has_attr("starts") || !ctx.has_attr("ends"))
      return ctx.Invalid("attributes 'starts' and 'ends' are required");
    starts_ = ctx.attr_ints("starts");
    ends_ = ctx.attr_ints("ends");
    has_axes_ = ctx.has_attr("axes");
    axes_ = ctx.attr_ints("axes");
  }
  return Status::Ok();
}

StatusOr<SliceWindow> SliceSpec::Resolve(const ComputeContext& ctx, const Tensor& x) const {
  Shape starts = starts_, ends = ends_, axes = axes_, steps;
  bool has_axes = has_axes_;
  if (from_inputs_) {
    if (!ctx.input(1) || !ctx.input(2)) return ctx.Error("inputs 'starts' and 'ends' are required");
    HONE_ASSIGN_OR_RETURN(starts, ToInt64Vector(ctx.node(), *ctx.input(1), "starts"));
    HONE_ASSIGN_OR_RETURN(ends, ToInt64Vector(ctx.node(), *ctx.input(2), "ends"));
    has_axes = ctx.input(3) != nullptr;
    if (has_axes) {
      HONE_ASSIGN_OR_RETURN(axes, ToInt64Vector(ctx.node(), *ctx.input(3), "axes"));
    }
    if (ctx.input(4)) {
      HONE_ASSIGN_OR_RETURN(steps, ToInt64Vector(ctx.node(), *ctx.input(4), "steps"));
    }
  }
  const size_t n = starts.size();
  if (ends.size() != n) return ctx.Error("starts has {} entries but ends has {}", n, ends.size());
  if (!has_axes) {
    axes.resize(n);
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (axes.size() != n) return ctx.Error("axes has {} entries, expected {}", axes.size(), n);
  if (steps.empty()) steps.assign(n, 1);
  if (steps.size() != n) return ctx.Error("steps has {} entries, expected {}", steps.size(), n);

  const size_t rank = static_cast<size_t>(x.rank());
  SliceWindow w{Shape(rank, 0), Shape(rank, 1), x.shape()};
  Shape seen(rank, 0);  // per axis: 1 once sliced
  for (size_t i = 0; i < n; ++i) {
    HONE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(ctx.node(), axes[i], x.rank(), "axes entry"));
    size_t ua = static_cast<size_t>(a);
    if (seen[ua]) return ctx.Error("axis {} is sliced twice", a);
    seen[ua] = true;
    const int64_t dim = x.dim(a);
    // A step beyond the dimension behaves like the dimension; this also keeps -step finite.
    const int64_t st =
        std::clamp<int64_t>(steps[i], -std::max<int64_t>(dim, 1), std::max<int64_t>(dim, 1));
    if (st == 0) return ctx.Error("steps[{}] is 0", i);
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t count;
    if (dim == 0) {
      s = 0;
      count = 0;
    } else if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = s > e ? (s - e - 1) / (-st) + 1 : 0;
    }
    w.start[ua] = s;
    w.step[ua] = st;
    w.out_shape[ua] = count;
  }
  return w;
}

}  // namespace hone::ref
