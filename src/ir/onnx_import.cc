// ONNX ModelProto import: opsets, initializers (raw, typed, external, sparse), attributes,
// subgraphs, value types; ONNX's own shape inference (libonnx) validates shapes at load.
#include "ir/onnx_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "ir/tensor_proto.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

namespace hone {
namespace {

// Newest opsets this build of hone knows. Models that import newer ones are refused.
constexpr int64_t kMaxOnnxOpset = 22;
constexpr int64_t kMaxOnnxMlOpset = 5;
// Newest opsets libonnx's schemas (used for load-time shape inference) know: ONNX 1.12.
constexpr int64_t kShapeInferenceMaxOpset = 17;
constexpr int64_t kShapeInferenceMaxMlOpset = 3;

std::string NormalizeDomain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

void ReadTensorType(const onnx::TypeProto::Tensor& tt, ValueInfo& v) {
  v.dtype = static_cast<DataType>(tt.elem_type());
  if (!tt.has_shape()) return;
  v.has_shape = true;
  for (const auto& d : tt.shape().dim()) {
    Dim dim;
    if (d.has_dim_value()) dim.value = d.dim_value();
    if (d.has_dim_param()) dim.symbol = d.dim_param();
    v.shape.push_back(dim);
  }
}

ValueInfo ValueInfoFromProto(const onnx::ValueInfoProto& p) {
  ValueInfo v;
  v.name = p.name();
  const auto& type = p.type();
  using K = ValueInfo::Kind;
  if (type.has_tensor_type()) {
    ReadTensorType(type.tensor_type(), v);
  } else if (type.has_sequence_type()) {
    v.kind = K::kSequence;
    if (type.sequence_type().elem_type().has_tensor_type())
      ReadTensorType(type.sequence_type().elem_type().tensor_type(), v);
  } else if (type.has_optional_type()) {
    const auto& elem = type.optional_type().elem_type();
    if (elem.has_tensor_type()) {
      v.kind = K::kOptionalTensor;
      ReadTensorType(elem.tensor_type(), v);
    } else if (elem.has_sequence_type()) {
      v.kind = K::kOptionalSequence;
      if (elem.sequence_type().elem_type().has_tensor_type())
        ReadTensorType(elem.sequence_type().elem_type().tensor_type(), v);
    } else {
      v.kind = K::kOther;
    }
  } else if (type.value_case() != onnx::TypeProto::VALUE_NOT_SET) {
    v.kind = K::kOther;
  }
  return v;
}

struct Importer {
  std::string base_dir;
  int depth = 0;

  StatusOr<Attribute> ConvertAttribute(const onnx::AttributeProto& a, const std::string& where) {
    Attribute out;
    using A = onnx::AttributeProto;
    auto type = a.type();
    if (type == A::UNDEFINED) {  // very old models omit the type: infer it from the field set
      if (a.has_f())
        type = A::FLOAT;
      else if (a.has_i())
        type = A::INT;
      else if (a.has_s())
        type = A::STRING;
      else if (a.has_t())
        type = A::TENSOR;
      else if (a.has_g())
        type = A::GRAPH;
      else if (a.floats_size())
        type = A::FLOATS;
      else if (a.ints_size())
        type = A::INTS;
      else if (a.strings_size())
        type = A::STRINGS;
      else if (a.tensors_size())
        type = A::TENSORS;
      else if (a.graphs_size())
        type = A::GRAPHS;
    }
    const std::string what = where + " attribute '" + a.name() + "'";
    switch (type) {
      case A::FLOAT:
        out.kind = Attribute::Kind::kFloat;
        out.f = a.f();
        break;
      case A::INT:
        out.kind = Attribute::Kind::kInt;
        out.i = a.i();
        break;
      case A::STRING:
        out.kind = Attribute::Kind::kString;
        out.s = a.s();
        break;
      case A::TENSOR: {
        out.kind = Attribute::Kind::kTensor;
        HONE_ASSIGN_OR_RETURN(out.t, TensorFromProto(a.t(), base_dir, what));
        break;
      }
      case A::SPARSE_TENSOR: {
        out.kind = Attribute::Kind::kTensor;
        HONE_ASSIGN_OR_RETURN(out.t, TensorFromSparseProto(a.sparse_tensor(), base_dir, what));
        break;
      }
      case A::GRAPH: {
        out.kind = Attribute::Kind::kGraph;
        HONE_ASSIGN_OR_RETURN(Graph g, ConvertGraph(a.g()));
        out.g = std::make_shared<const Graph>(std::move(g));
        break;
      }
      case A::FLOATS:
        out.kind = Attribute::Kind::kFloats;
        out.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case A::INTS:
        out.kind = Attribute::Kind::kInts;
        out.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case A::STRINGS:
        out.kind = Attribute::Kind::kStrings;
        out.strings.assign(a.strings().begin(), a.strings().end());
        break;
      case A::TENSORS:
        out.kind = Attribute::Kind::kTensors;
        for (const auto& t : a.tensors()) {
          HONE_ASSIGN_OR_RETURN(Tensor x, TensorFromProto(t, base_dir, what));
          out.tensors.push_back(std::move(x));
        }
        break;
      case A::GRAPHS:
        out.kind = Attribute::Kind::kGraphs;
        for (const auto& g : a.graphs()) {
          HONE_ASSIGN_OR_RETURN(Graph x, ConvertGraph(g));
          out.graphs.push_back(std::make_shared<const Graph>(std::move(x)));
        }
        break;
      case A::TYPE_PROTO:
      case A::TYPE_PROTOS:
        out.kind = Attribute::Kind::kTypeProto;
        break;
      default:
        return InvalidModel("{}: unknown attribute type {}", what, static_cast<int>(type));
    }
    return out;
  }

  // `owned`: the same graph, mutable, for the top level: initializer bytes move out of it.
  StatusOr<Graph> ConvertGraph(const onnx::GraphProto& gp, onnx::GraphProto* owned = nullptr) {
    constexpr int kMaxDepth = 64;
    if (++depth > kMaxDepth) return InvalidModel("subgraphs nested deeper than {}", kMaxDepth);
    Graph g;
    g.name = gp.name();
    for (const auto& vi : gp.input()) g.inputs.push_back(ValueInfoFromProto(vi));
    for (const auto& vi : gp.output()) g.outputs.push_back(ValueInfoFromProto(vi));
    for (const auto& vi : gp.value_info()) g.value_info[vi.name()] = ValueInfoFromProto(vi);
    for (int i = 0; i < gp.initializer_size(); ++i) {
      const onnx::TensorProto& t = gp.initializer(i);
      if (t.name().empty()) return InvalidModel("graph '{}': an initializer has no name", g.name);
      Tensor x;
      if (owned) {
        HONE_ASSIGN_OR_RETURN(
            x, TakeTensorFromProto(*owned->mutable_initializer(i), base_dir, t.name()));
      } else {
        HONE_ASSIGN_OR_RETURN(x, TensorFromProto(t, base_dir, t.name()));
      }
      g.initializers[t.name()] = std::move(x);
    }
    for (const auto& st : gp.sparse_initializer()) {
      const std::string& name = st.values().name();
      if (name.empty()) return InvalidModel("graph '{}': a sparse initializer has no name", g.name);
      HONE_ASSIGN_OR_RETURN(Tensor x, TensorFromSparseProto(st, base_dir, name));
      g.initializers[name] = std::move(x);
    }
    g.nodes.reserve(static_cast<size_t>(gp.node_size()));
    for (const auto& np : gp.node()) {
      Node n;
      n.name = np.name();
      n.op_type = np.op_type();
      n.domain = NormalizeDomain(np.domain());
      n.inputs.assign(np.input().begin(), np.input().end());
      n.outputs.assign(np.output().begin(), np.output().end());
      if (n.op_type.empty()) return InvalidModel("graph '{}': a node has no op_type", g.name);
      for (const auto& a : np.attribute()) {
        if (!a.ref_attr_name().empty())
          return NotSupported("{}: attribute references outside functions", n.Describe());
        HONE_ASSIGN_OR_RETURN(Attribute attr, ConvertAttribute(a, n.Describe()));
        n.attributes[a.name()] = std::move(attr);
      }
      g.nodes.push_back(std::move(n));
    }
    --depth;
    return g;
  }
};

Status RunShapeInference(onnx::ModelProto& mp, const Model& m) {
  auto get = [&](const std::string& d) {
    auto it = m.opsets.find(d);
    return it == m.opsets.end() ? int64_t{0} : it->second;
  };
  // libonnx (1.12) knows schemas up to opset 17; newer models get best-effort inference only.
  bool strict =
      get("") <= kShapeInferenceMaxOpset && get("ai.onnx.ml") <= kShapeInferenceMaxMlOpset;
  for (const auto& [domain, v] : m.opsets)
    if (!domain.empty() && domain != "ai.onnx.ml") strict = false;  // custom domains: no schemas
  onnx::ShapeInferenceOptions opts(/*check_type=*/true, /*strict_mode=*/strict ? 1 : 0,
                                   /*data_prop=*/true);
  // libonnx types sparse initializers as sparse tensors, which no operator accepts; infer on a
  // copy where they are plain (data-less) dense initializers, as hone densifies them anyway.
  onnx::ModelProto dense_copy;
  onnx::ModelProto* target = &mp;
  if (mp.graph().sparse_initializer_size() > 0) {
    dense_copy = mp;
    auto* g = dense_copy.mutable_graph();
    for (const auto& sp : g->sparse_initializer()) {
      auto* t = g->add_initializer();
      t->set_name(sp.values().name());
      t->set_data_type(sp.values().data_type());
      for (auto d : sp.dims()) t->add_dims(d);
    }
    g->clear_sparse_initializer();
    target = &dense_copy;
  }
  try {
    onnx::shape_inference::InferShapes(*target, onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    if (!strict) return Status::Ok();  // best effort only
    std::string msg = e.what();
    // Unknown ops are reported later, by kernel lookup, with a clearer message.
    if (msg.find("No Op registered") != std::string::npos ||
        msg.find("No opset import") != std::string::npos)
      return Status::Ok();
    return InvalidModel("shape inference failed: {}", msg);
  }
  return Status::Ok();
}

}  // namespace

std::string Node::Describe() const {
  std::string d = "node \"" + name + "\" (" + (domain.empty() ? "" : domain + ".") + op_type + ")";
  return d;
}

namespace {

Status ParseFailed(size_t bytes) {
  return InvalidModel(
      "not a valid ONNX model: protobuf parsing failed ({} bytes; truncated or "
      "corrupted file?)",
      bytes);
}

// The model in a parsed proto; initializer bytes move out of `mp`.
StatusOr<Model> ImportParsed(onnx::ModelProto& mp, const ImportOptions& options);

}  // namespace

StatusOr<Model> ImportOnnxModel(std::span<const uint8_t> bytes, const ImportOptions& options) {
  onnx::ModelProto mp;
  if (bytes.size() > static_cast<size_t>(INT32_MAX))
    return NotSupported("model files over 2 GiB must keep weights in external data");
  if (!mp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return ParseFailed(bytes.size());
  return ImportParsed(mp, options);
}

namespace {

StatusOr<Model> ImportParsed(onnx::ModelProto& mp, const ImportOptions& options) {
  if (!mp.has_graph()) return InvalidModel("not a valid ONNX model: it has no graph");
  Model m;
  m.ir_version = mp.ir_version();
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  for (const auto& op : mp.opset_import()) {
    std::string d = NormalizeDomain(op.domain());
    if (op.version() < 1)
      return InvalidModel("opset import for domain '{}' has invalid version {}",
                          d.empty() ? "ai.onnx" : d, op.version());
    m.opsets[d] = op.version();
  }
  if (mp.opset_import_size() == 0) {
    if (mp.ir_version() >= 3)
      return InvalidModel("the model has no opset_import (required since IR version 3)");
    m.opsets[""] = 1;  // IR version < 3: opset 1 implied
  }
  if (m.opsets.count("") && m.opsets[""] > kMaxOnnxOpset)
    return NotSupported("the model imports ai.onnx opset {}; hone supports opsets up to {}",
                        m.opsets[""], kMaxOnnxOpset);
  if (m.opsets.count("ai.onnx.ml") && m.opsets["ai.onnx.ml"] > kMaxOnnxMlOpset)
    return NotSupported("the model imports ai.onnx.ml opset {}; hone supports up to {}",
                        m.opsets["ai.onnx.ml"], kMaxOnnxMlOpset);
  if (options.infer_shapes) HONE_RETURN_IF_ERROR(RunShapeInference(mp, m));
  Importer importer{options.base_dir};
  HONE_ASSIGN_OR_RETURN(m.graph, importer.ConvertGraph(mp.graph(), mp.mutable_graph()));
  return m;
}

}  // namespace

StatusOr<Model> ImportOnnxFile(const std::string& path, bool infer_shapes) {
  // Parsed straight from the file (no copy of its bytes in memory); initializer blobs then move
  // from the proto into the tensors, so loading holds the weights about once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open model file '{}'", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return NotFound("cannot open model file '{}'", path);
  }
  onnx::ModelProto mp;
  const bool parsed = mp.ParseFromFileDescriptor(fd);
  ::close(fd);
  if (!parsed) return ParseFailed(static_cast<size_t>(st.st_size)).WithContext(path);
  ImportOptions opts;
  opts.base_dir = std::filesystem::path(path).parent_path().string();
  if (opts.base_dir.empty()) opts.base_dir = ".";
  opts.infer_shapes = infer_shapes;
  auto m = ImportParsed(mp, opts);
  if (!m.ok()) return m.status().WithContext(path);
  return m;
}

}  // namespace hone
