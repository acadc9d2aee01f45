// The graph optimisation pipeline a session (and `hone optimize`) runs before planning.
// Each pass lives in its own file with a `StatusOr<int> Pass(Graph&)` entry point that returns
// how many rewrites it made; this file orders them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hone/status.h"
#include "ir/graph.h"
#include "passes/fold_constants.h"

namespace hone {

enum class OptLevel {
  kNone = 0,   // only what the runtime needs (Constant nodes to initializers)
  kBasic = 1,  // rewrites into standard ONNX ops: Identity/Dropout removal, BatchNorm folding, ...
  kAll = 2,    // also fused and layout-specific ops of the com.hone domain (fast CPU kernels)
};

struct PassRun {
  std::string pass;
  int rewrites = 0;
};

// Rewrites `model.graph` in place; adds the com.hone opset import when it created such nodes.
// `evaluate` (runtime/evaluate.h) enables constant folding from level basic up. Returns what
// each pass did, in order.
StatusOr<std::vector<PassRun>> OptimizeModel(Model& model, OptLevel level,
                                             const NodeEvaluator* evaluate = nullptr);

}  // namespace hone
