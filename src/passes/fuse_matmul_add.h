// Graph pass: MatMul(A, W) followed by Add with a constant bias over the last axis ([N] or
// [1, N]), W a constant float32 [K, N], the product read only by the Add. With a 2-D A (declared
// rank) it becomes the standard Gemm(A, W, bias) (level basic); otherwise (any other or unknown
// rank) com.hone
// MatMul(A, W, bias) (level all), whose oneDNN kernel adds the bias in its epilogue.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FuseMatMulAdd(Graph& graph, bool allow_hone_ops);

}  // namespace hone
