// Channel-blocked activations (com.hone ops): a logical NCHW tensor is stored as
// [N, ceil(C/B), H, W, B] with B = 8 or 16 channels innermost (oneDNN's nChw8c / nChw16c), or as
// [N, 1, H, W, C] (NHWC, "block 0": one block of all channels). Padding channels hold unspecified
// finite values; consumers never read them as data (blocked convolutions have zero weights there,
// ReorderOutput drops them).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "hone/tensor.h"

namespace hone::cpu {

// oneDNN's format tag for block size 8, 16 or 0 (NHWC); format_tag::undef for others.
dnnl::memory::format_tag BlockedTag(int64_t block);

// The layout of a blocked tensor `t` holding `channels` real channels (0: all Cb * B);
// format_tag::undef when the shape does not fit.
dnnl::memory::format_tag BlockedFormat(const Tensor& t, int64_t channels);

// The memory descriptor of a blocked tensor `t` ([N, Cb, H, W, B]) holding `channels` real
// channels; a zero desc when the shape does not fit. `channels` 0: all Cb * B channels.
dnnl::memory::desc BlockedDesc(const Tensor& t, int64_t channels);

// Blocked storage shape for a logical NCHW shape.
Shape BlockedShape(const Shape& nchw, int64_t block);

}  // namespace hone::cpu
