#include "passes/pipeline.h"

#include "core/errors.h"
#include "passes/constants_to_initializers.h"
#include "passes/fold_batch_norm.h"
#include "passes/graph_util.h"
#include "passes/remove_identity.h"

namespace hone {

StatusOr<std::vector<PassRun>> OptimizeModel(Model& model, OptLevel level) {
  std::vector<PassRun> runs;
  Graph& g = model.graph;
  auto run = [&](const char* name, StatusOr<int> r) -> Status {
    if (!r.ok()) return r.status().WithContext(std::string("graph pass ") + name);
    runs.push_back({name, *r});
    return Status::Ok();
  };
  HONE_RETURN_IF_ERROR(run("constants-to-initializers", ConstantsToInitializers(g)));
  if (level >= OptLevel::kBasic) {
    HONE_RETURN_IF_ERROR(run("remove-identity", RemoveIdentityAndDropout(g)));
    HONE_RETURN_IF_ERROR(run("fold-batch-norm", FoldBatchNormIntoConv(g)));
    HONE_RETURN_IF_ERROR(run("dead-nodes", RemoveDeadNodes(g)));
  }
  RemoveUnusedInitializers(g);
  for (const auto& n : g.nodes)
    if (n.domain == kHoneDomain) {
      model.opsets[kHoneDomain] = 1;
      break;
    }
  return runs;
}

}  // namespace hone
