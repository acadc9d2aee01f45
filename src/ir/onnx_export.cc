#include "ir/onnx_export.h"

#include <climits>
#include <cstring>
#include <set>

#include "core/errors.h"
#include "onnx/onnx_pb.h"

namespace hone {
namespace {

void WriteTensorType(const ValueInfo& v, onnx::TypeProto::Tensor* tt) {
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  if (!v.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : v.shape) {
    auto* dim = shape->add_dim();
    if (d.known())
      dim->set_dim_value(d.value);
    else if (!d.symbol.empty())
      dim->set_dim_param(d.symbol);
  }
}

void WriteValueInfo(const ValueInfo& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  auto* type = p->mutable_type();
  using K = ValueInfo::Kind;
  switch (v.kind) {
    case K::kTensor:
      if (v.dtype != DataType::kUndefined) WriteTensorType(v, type->mutable_tensor_type());
      break;
    case K::kSequence:
      WriteTensorType(v, type->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type());
      break;
    case K::kOptionalTensor:
      WriteTensorType(v, type->mutable_optional_type()->mutable_elem_type()->mutable_tensor_type());
      break;
    case K::kOptionalSequence:
      WriteTensorType(v, type->mutable_optional_type()
                             ->mutable_elem_type()
                             ->mutable_sequence_type()
                             ->mutable_elem_type()
                             ->mutable_tensor_type());
      break;
    case K::kOther:
      break;
  }
}

void WriteTensor(const std::string& name, const Tensor& t, onnx::TensorProto* p) {
  if (!name.empty()) p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DataType::kString) {
    const auto* s = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i) p->add_string_data(s[i]);
    return;
  }
  if (t.nbytes()) p->set_raw_data(std::string(static_cast<const char*>(t.raw_data()), t.nbytes()));
}

Status WriteGraph(const Graph& g, onnx::GraphProto* p);

Status WriteAttribute(const std::string& key, const Attribute& a, const Node& n,
                      onnx::AttributeProto* p) {
  using A = onnx::AttributeProto;
  using K = Attribute::Kind;
  p->set_name(key);
  switch (a.kind) {
    case K::kFloat:
      p->set_type(A::FLOAT);
      p->set_f(a.f);
      break;
    case K::kInt:
      p->set_type(A::INT);
      p->set_i(a.i);
      break;
    case K::kString:
      p->set_type(A::STRING);
      p->set_s(a.s);
      break;
    case K::kTensor:
      p->set_type(A::TENSOR);
      WriteTensor("", a.t, p->mutable_t());
      break;
    case K::kGraph:
      p->set_type(A::GRAPH);
      HONE_RETURN_IF_ERROR(WriteGraph(*a.g, p->mutable_g()));
      break;
    case K::kFloats:
      p->set_type(A::FLOATS);
      for (float v : a.floats) p->add_floats(v);
      break;
    case K::kInts:
      p->set_type(A::INTS);
      for (int64_t v : a.ints) p->add_ints(v);
      break;
    case K::kStrings:
      p->set_type(A::STRINGS);
      for (const auto& v : a.strings) p->add_strings(v);
      break;
    case K::kTensors:
      p->set_type(A::TENSORS);
      for (const auto& t : a.tensors) WriteTensor("", t, p->add_tensors());
      break;
    case K::kGraphs:
      p->set_type(A::GRAPHS);
      for (const auto& sg : a.graphs) HONE_RETURN_IF_ERROR(WriteGraph(*sg, p->add_graphs()));
      break;
    case K::kTypeProto:
    case K::kUnknown:
      return NotSupported("{}: attribute '{}' has a type hone does not write", n.Describe(), key);
  }
  return Status::Ok();
}

Status WriteGraph(const Graph& g, onnx::GraphProto* p) {
  p->set_name(g.name);
  for (const auto& v : g.inputs) WriteValueInfo(v, p->add_input());
  for (const auto& v : g.outputs) WriteValueInfo(v, p->add_output());
  // Declared types of intermediate values that still exist (passes rename and drop values).
  std::set<std::string> produced;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) produced.insert(o);
  for (const auto& [name, v] : g.value_info)
    if (produced.count(name)) WriteValueInfo(v, p->add_value_info());
  for (const auto& [name, t] : g.initializers) WriteTensor(name, t, p->add_initializer());
  for (const auto& n : g.nodes) {
    auto* np = p->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [k, a] : n.attributes)
      HONE_RETURN_IF_ERROR(WriteAttribute(k, a, n, np->add_attribute()));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ExportOnnxModel(const Model& model) {
  onnx::ModelProto mp;
  mp.set_ir_version(model.ir_version > 0 ? model.ir_version : 8);
  mp.set_producer_name("hone");
  mp.set_producer_version("0.1.0");
  for (const auto& [domain, v] : model.opsets) {
    auto* op = mp.add_opset_import();
    op->set_domain(domain);
    op->set_version(v);
  }
  HONE_RETURN_IF_ERROR(WriteGraph(model.graph, mp.mutable_graph()));
  if (mp.ByteSizeLong() > static_cast<size_t>(INT32_MAX))
    return NotSupported("the optimised model is over protobuf's 2 GiB limit");
  std::string out;
  if (!mp.SerializeToString(&out)) return Internal("serializing the optimised model failed");
  return out;
}

}  // namespace hone
