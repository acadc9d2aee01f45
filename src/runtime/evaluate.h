// A NodeEvaluator (passes/fold_constants.h) that runs one node with the reference kernels, for
// constant folding at session creation and in `hone optimize`.
#pragma once

#include "passes/fold_constants.h"

namespace hone {

NodeEvaluator ReferenceEvaluator();

}  // namespace hone
