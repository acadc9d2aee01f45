// Graph pass: BatchNormalization (inference form) after a Conv with constant weights folds into
// the Conv's weights and bias: W'[m] = W[m] * s[m], B'[m] = (B[m] - mean[m]) * s[m] + beta[m] with
// s = gamma / sqrt(var + epsilon). The Conv must be the BatchNormalization's only reader.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FoldBatchNormIntoConv(Graph& graph);

}  // namespace hone
