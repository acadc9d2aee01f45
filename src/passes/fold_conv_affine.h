// Graph pass: elementwise Mul / Div / Add / Sub of a Conv's output by a constant that is a scalar
// or per output channel ([M,1,1] or [1,M,1,1]) folds into the Conv's weights and bias, when the
// Conv's output has no other reader. PP-OCRv4 (PP-LCNetV3) follows every convolution with such a
// learnable scale and shift.
#pragma once

#include "hone/status.h"
#include "ir/graph.h"

namespace hone {

StatusOr<int> FoldAffineIntoConv(Graph& graph);

}  // namespace hone
