// Tiny ONNX models built in memory for tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hone/hone.h"
#include "ir/onnx_import.h"
#include "onnx/onnx_pb.h"

namespace hone::testing {

inline void SetType(onnx::ValueInfoProto* v, const std::string& name, int dtype,
                    const std::vector<int64_t>& dims, const std::vector<std::string>& syms = {}) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtype);
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (i < syms.size() && !syms[i].empty())
      d->set_dim_param(syms[i]);
    else
      d->set_dim_value(dims[i]);
  }
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op,
                                const std::vector<std::string>& in,
                                const std::vector<std::string>& out, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(g->node_size()) : name);
  for (const auto& s : in) n->add_input(s);
  for (const auto& s : out) n->add_output(s);
  return n;
}

inline onnx::TensorProto* AddFloatInit(onnx::GraphProto* g, const std::string& name,
                                       const std::vector<int64_t>& dims,
                                       const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  for (auto v : values) t->add_float_data(v);
  return t;
}

inline onnx::ModelProto NewModel(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("hone-tests");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

// Y = X + B with X [batch, 3] float, B an initializer [3].
inline onnx::ModelProto AddModel() {
  auto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "X", onnx::TensorProto::FLOAT, {0, 3}, {"batch", ""});
  SetType(g->add_output(), "Y", onnx::TensorProto::FLOAT, {0, 3}, {"batch", ""});
  AddFloatInit(g, "B", {3}, {1, 2, 3});
  AddNode(g, "Add", {"X", "B"}, {"Y"}, "add");
  return m;
}

inline std::string Bytes(const onnx::ModelProto& m) { return m.SerializeAsString(); }

inline StatusOr<std::unique_ptr<Session>> Load(const onnx::ModelProto& m,
                                               const std::string& base_dir = "",
                                               SessionOptions options = {}) {
  std::string b = Bytes(m);
  return Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()), options,
      base_dir);
}

// The in-memory IR of a built model (for pass tests); an import error fails the test.
inline Model ImportProto(const onnx::ModelProto& m) {
  std::string b = Bytes(m);
  auto model = ImportOnnxModel(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()), {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

inline Tensor FloatTensor(const std::vector<int64_t>& shape, const std::vector<float>& v) {
  Tensor t = Tensor::Empty(DataType::kFloat32, shape);
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

}  // namespace hone::testing
