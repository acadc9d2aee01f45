// N-ary broadcasting iteration for the reference kernels.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {

// Calls f(out_index, std::array<int64_t, N> input_offsets) for every element of `out_shape`,
// where inputs are broadcast to it (shapes right-aligned, numpy rules already checked).
template <size_t N, typename F>
void ForEachBroadcast(const Shape& out_shape, const std::array<const Shape*, N>& in_shapes, F&& f) {
  const size_t rank = out_shape.size();
  std::array<Shape, N> st;
  for (size_t k = 0; k < N; ++k) st[k] = BroadcastStrides(*in_shapes[k], out_shape);
  const int64_t total = ShapeSize(out_shape);
  if (total == 0) return;
  if (rank == 0) {
    std::array<int64_t, N> offs{};
    f(int64_t{0}, offs);
    return;
  }
  const int64_t inner = out_shape[rank - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = st[k][rank - 1];
  Shape idx(rank, 0);
  std::array<int64_t, N> base{};
  for (int64_t o = 0; o < total; o += inner) {
    std::array<int64_t, N> offs = base;
    for (int64_t j = 0; j < inner; ++j) {
      f(o + j, offs);
      for (size_t k = 0; k < N; ++k) offs[k] += inner_stride[k];
    }
    // advance the outer odometer (dims 0..rank-2)
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      size_t ud = static_cast<size_t>(d);
      idx[ud]++;
      for (size_t k = 0; k < N; ++k) base[k] += st[k][ud];
      if (idx[ud] < out_shape[ud]) break;
      for (size_t k = 0; k < N; ++k) base[k] -= st[k][ud] * idx[ud];
      idx[ud] = 0;
    }
  }
}

}  // namespace hone::ref
