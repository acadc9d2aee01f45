#include "passes/pipeline.h"

#include "core/errors.h"
#include "passes/constants_to_initializers.h"
#include "passes/fold_batch_norm.h"
#include "passes/fold_conv_affine.h"
#include "passes/fuse_attention.h"
#include "passes/fuse_gelu.h"
#include "passes/fuse_hard_swish.h"
#include "passes/fuse_layer_norm.h"
#include "passes/fuse_matmul_add.h"
#include "passes/fuse_qdq.h"
#include "passes/graph_util.h"
#include "passes/layout_nchwc.h"
#include "passes/remove_identity.h"

namespace hone {
namespace {

// Channels per block for blocked activations: one SIMD register of floats.
int64_t ChannelBlock() { return __builtin_cpu_supports("avx512f") ? 16 : 8; }

}  // namespace

StatusOr<std::vector<PassRun>> OptimizeModel(Model& model, OptLevel level,
                                             const NodeEvaluator* evaluate) {
  std::vector<PassRun> runs;
  Graph& g = model.graph;
  auto run = [&](const char* name, StatusOr<int> r) -> Status {
    if (!r.ok()) return r.status().WithContext(std::string("graph pass ") + name);
    runs.push_back({name, *r});
    return Status::Ok();
  };
  const int64_t onnx_opset = model.opsets.count("") ? model.opsets.at("") : 0;
  HONE_RETURN_IF_ERROR(run("constants-to-initializers", ConstantsToInitializers(g)));
  if (level >= OptLevel::kBasic) {
    HONE_RETURN_IF_ERROR(run("remove-identity", RemoveIdentityAndDropout(g)));
    // Before constant folding, which would turn the quantized weights into float ones.
    HONE_RETURN_IF_ERROR(run("fuse-qdq", FuseQdq(g, onnx_opset, /*fuse=*/level >= OptLevel::kAll)));
    if (evaluate)
      HONE_RETURN_IF_ERROR(run("fold-constants", FoldConstants(g, model.opsets, *evaluate)));
    HONE_RETURN_IF_ERROR(run("fold-batch-norm", FoldBatchNormIntoConv(g)));
    HONE_RETURN_IF_ERROR(run("fold-conv-affine", FoldAffineIntoConv(g)));
    HONE_RETURN_IF_ERROR(
        run("fuse-matmul-add", FuseMatMulAdd(g, /*allow_hone_ops=*/level >= OptLevel::kAll)));
    HONE_RETURN_IF_ERROR(run("dead-nodes", RemoveDeadNodes(g)));
  }
  if (level >= OptLevel::kAll) {
    HONE_RETURN_IF_ERROR(run("fuse-layer-norm", FuseLayerNorm(g, onnx_opset)));
    HONE_RETURN_IF_ERROR(run("fuse-gelu", FuseGelu(g, onnx_opset)));
    HONE_RETURN_IF_ERROR(run("fuse-attention", FuseAttention(g, onnx_opset)));
  }
  if (level >= OptLevel::kAll) {
    HONE_RETURN_IF_ERROR(run("fuse-hard-swish", FuseHardSwish(g, onnx_opset)));
    HONE_RETURN_IF_ERROR(
        run("blocked-layout", ConvertToBlockedLayout(g, PreferredBlock(g, ChannelBlock()))));
  }
  if (level >= OptLevel::kBasic) RemoveUnusedInitializers(g);
  for (const auto& n : g.nodes)
    if (n.domain == kHoneDomain) {
      model.opsets[kHoneDomain] = 1;
      break;
    }
  return runs;
}

}  // namespace hone
