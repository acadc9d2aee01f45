// Shared by the oneDNN convolution kernels (ai.onnx Conv in dnnl_conv.cc, com.hone Conv with
// channel-blocked activations and fused post-ops in dnnl_fused_conv.cc): ONNX Conv attributes and
// building a primitive with weights prepacked into the layout it wants.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/dnnl_common.h"
#include "kernels/kernel.h"

namespace hone::cpu {

struct ConvParams {
  const Tensor* w = nullptr;  // owned by the model's initializers, alive as long as the session
  const Tensor* b = nullptr;
  int64_t group = 1;
  std::string auto_pad;
  std::vector<int64_t> strides, dilations, pads;

  // Reads a 2-D Conv with constant weights of type `weights` (and a float32 bias); declines
  // anything else.
  Status Parse(const InitContext& ctx, DataType weights = DataType::kFloat32);
  int64_t in_channels() const { return w->dim(1) * group; }
  int64_t out_channels() const { return w->dim(0); }
};

struct ConvPrim {
  dnnl::convolution_forward prim;
  dnnl::memory::desc src_md, dst_md;  // the layouts the primitive uses
  dnnl::memory weights, bias;         // prepacked
  Shape out_nchw;                     // logical output shape
  std::string impl;                   // oneDNN's implementation name, for verbose logs
  PrimitiveCall call;                 // prim with src, dst varying (src_md, dst_md layouts)
  bool plain_edges = false;           // src_md and dst_md are plain NCHW
};

// Multiply-adds x 2 of a convolution producing `out_nchw`.
inline double ConvFlops(const ConvParams& p, const Shape& out_nchw) {
  return 2.0 * static_cast<double>(ShapeSize(out_nchw)) *
         static_cast<double>(p.w->dim(1) * p.w->dim(2) * p.w->dim(3));
}

// Output spatial size and the left/right pads for a logical NCHW input; false when no window
// fits.
bool ConvGeometry(const ConvParams& p, const Shape& x_nchw, int64_t out[2], int64_t pl[2],
                  int64_t pr[2]);

// Output shape [N, M, OH, OW] for a logical NCHW input; empty when no window fits.
Shape ConvOutputShape(const ConvParams& p, const Shape& x_nchw);

// A primitive for logical input `x_nchw` with the given source / destination layouts
// (format_tag::any lets oneDNN choose), attributes (post-ops, scales; built with
// UserScratchpad) and data types, weights prepacked; nullptr when oneDNN cannot.
// Data types of a convolution's source, weights and destination (the bias is float32): float32,
// or uint8 x int8 -> uint8 for the int8 convolution (dnnl_int8.cc, with scales in `attr`).
struct ConvTypes {
  dnnl::memory::data_type src = dnnl::memory::data_type::f32;
  dnnl::memory::data_type weights = dnnl::memory::data_type::f32;
  dnnl::memory::data_type dst = dnnl::memory::data_type::f32;
};

std::shared_ptr<ConvPrim> BuildConv(const ConvParams& p, const Shape& x_nchw,
                                    dnnl::memory::format_tag src_tag,
                                    dnnl::memory::format_tag dst_tag,
                                    const dnnl::primitive_attr& attr = dnnl::primitive_attr(),
                                    const ConvTypes& types = ConvTypes());

}  // namespace hone::cpu
