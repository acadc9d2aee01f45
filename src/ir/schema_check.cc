#include "ir/schema_check.h"

#include "core/errors.h"
#include "onnx/defs/schema.h"

namespace hone {

Status CheckNodeArity(const Node& node, int64_t opset) {
  // libonnx knows opsets up to its own release; past that a newer schema may exist, so skip.
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto range = ranges.find(node.domain);
  if (range == ranges.end() || opset > range->second.second) return Status::Ok();
  const onnx::OpSchema* schema =
      onnx::OpSchemaRegistry::Schema(node.op_type, static_cast<int>(opset), node.domain);
  if (schema == nullptr) return Status::Ok();
  // Trailing empty names mean "not given".
  int n_in = static_cast<int>(node.inputs.size());
  while (n_in > 0 && node.inputs[static_cast<size_t>(n_in) - 1].empty()) --n_in;
  int n_out = static_cast<int>(node.outputs.size());
  const std::string what = node.Describe();
  if (n_in < schema->min_input() || n_in > schema->max_input())
    return InvalidModel(
        "{}: has {} inputs; {} v{} takes {}{}", what, n_in, node.op_type, schema->SinceVersion(),
        schema->min_input(),
        schema->max_input() == schema->min_input()
            ? std::string()
            : " to " + (schema->max_input() > 1000 ? std::string("any number")
                                                   : std::to_string(schema->max_input())));
  if (n_out < schema->min_output() || n_out > schema->max_output())
    return InvalidModel("{}: has {} outputs; {} v{} produces {} to {}", what, n_out, node.op_type,
                        schema->SinceVersion(), schema->min_output(), schema->max_output());
  const auto& formals = schema->inputs();
  for (int i = 0; i < n_in && i < static_cast<int>(formals.size()); ++i) {
    const auto& f = formals[static_cast<size_t>(i)];
    if (f.GetOption() == onnx::OpSchema::Single && node.inputs[static_cast<size_t>(i)].empty())
      return InvalidModel("{}: required input {} ('{}') is empty", what, i, f.GetName());
  }
  if (!formals.empty() && formals.back().GetOption() == onnx::OpSchema::Variadic)
    for (int i = static_cast<int>(formals.size()) - 1; i < n_in; ++i)
      if (node.inputs[static_cast<size_t>(i)].empty() && formals.back().GetIsHomogeneous())
        return InvalidModel("{}: variadic input {} is empty", what, i);
  return Status::Ok();
}

}  // namespace hone
