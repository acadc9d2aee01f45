#include "serve/protocol.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "core/json.h"

namespace hone::serve {
namespace {

struct TypeName {
  DataType dtype;
  const char* name;
};
constexpr TypeName kTypes[] = {
    {DataType::kBool, "BOOL"},     {DataType::kUInt8, "UINT8"},   {DataType::kUInt16, "UINT16"},
    {DataType::kUInt32, "UINT32"}, {DataType::kUInt64, "UINT64"}, {DataType::kInt8, "INT8"},
    {DataType::kInt16, "INT16"},   {DataType::kInt32, "INT32"},   {DataType::kInt64, "INT64"},
    {DataType::kFloat16, "FP16"},  {DataType::kFloat32, "FP32"},  {DataType::kFloat64, "FP64"},
    {DataType::kString, "BYTES"},  {DataType::kBFloat16, "BF16"},
};

// Appends the leaves of a nested JSON array (or the one value) to `out`, depth-first.
simdjson::error_code Flatten(simdjson::dom::element e, std::vector<simdjson::dom::element>& out) {
  simdjson::dom::array a;
  if (e.get(a) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : a)
      if (auto err = Flatten(child, out)) return err;
    return simdjson::SUCCESS;
  }
  out.push_back(e);
  return simdjson::SUCCESS;
}

template <typename T>
Status StoreNumbers(const std::vector<simdjson::dom::element>& v, Tensor& t,
                    const std::string& name) {
  T* dst = t.data<T>();
  for (size_t i = 0; i < v.size(); ++i) {
    const simdjson::dom::element& e = v[i];
    if constexpr (std::is_floating_point_v<T>) {
      double d;
      if (e.get(d) != simdjson::SUCCESS) {
        int64_t k;
        if (e.get(k) != simdjson::SUCCESS)
          return InvalidArgument("input '{}': element {} is not a number", name, i);
        d = static_cast<double>(k);
      }
      dst[i] = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, bool>) {
      bool b;
      if (e.get(b) != simdjson::SUCCESS)
        return InvalidArgument("input '{}': element {} is not true or false", name, i);
      dst[i] = b;
    } else {
      int64_t k;
      if (e.get(k) != simdjson::SUCCESS) {
        uint64_t u;
        if (e.get(u) != simdjson::SUCCESS ||
            u > static_cast<uint64_t>(std::numeric_limits<T>::max()))
          return InvalidArgument("input '{}': element {} is not an integer", name, i);
        dst[i] = static_cast<T>(u);
        continue;
      }
      if (k < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (k > 0 &&
           static_cast<uint64_t>(k) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
        return InvalidArgument("input '{}': element {} ({}) is out of range for the datatype", name,
                               i, k);
      dst[i] = static_cast<T>(k);
    }
  }
  return Status::Ok();
}

Status FillTensor(const std::vector<simdjson::dom::element>& v, Tensor& t,
                  const std::string& name) {
  switch (t.dtype()) {
    case DataType::kBool:
      return StoreNumbers<bool>(v, t, name);
    case DataType::kUInt8:
      return StoreNumbers<uint8_t>(v, t, name);
    case DataType::kUInt16:
      return StoreNumbers<uint16_t>(v, t, name);
    case DataType::kUInt32:
      return StoreNumbers<uint32_t>(v, t, name);
    case DataType::kUInt64:
      return StoreNumbers<uint64_t>(v, t, name);
    case DataType::kInt8:
      return StoreNumbers<int8_t>(v, t, name);
    case DataType::kInt16:
      return StoreNumbers<int16_t>(v, t, name);
    case DataType::kInt32:
      return StoreNumbers<int32_t>(v, t, name);
    case DataType::kInt64:
      return StoreNumbers<int64_t>(v, t, name);
    case DataType::kFloat32:
      return StoreNumbers<float>(v, t, name);
    case DataType::kFloat64:
      return StoreNumbers<double>(v, t, name);
    case DataType::kString:
      for (size_t i = 0; i < v.size(); ++i) {
        std::string_view s;
        if (v[i].get(s) != simdjson::SUCCESS)
          return InvalidArgument("input '{}': element {} is not a string", name, i);
        t.data<std::string>()[i] = std::string(s);
      }
      return Status::Ok();
    default:
      return InvalidArgument("input '{}': datatype {} is not supported in JSON", name,
                             ProtocolType(t.dtype()));
  }
}

template <typename T>
void WriteNumbers(const Tensor& t, std::string& out) {
  const T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (i) out += ',';
    if constexpr (std::is_same_v<T, bool>) {
      out += p[i] ? "true" : "false";
    } else if constexpr (std::is_floating_point_v<T>) {
      if (std::isfinite(p[i]))
        fmt::format_to(std::back_inserter(out), "{}", p[i]);
      else
        out += "null";  // JSON has no NaN / infinity
    } else {
      fmt::format_to(std::back_inserter(out), "{}", p[i]);
    }
  }
}

void WriteData(const Tensor& t, std::string& out) {
  switch (t.dtype()) {
    case DataType::kBool:
      return WriteNumbers<bool>(t, out);
    case DataType::kUInt8:
      return WriteNumbers<uint8_t>(t, out);
    case DataType::kUInt16:
      return WriteNumbers<uint16_t>(t, out);
    case DataType::kUInt32:
      return WriteNumbers<uint32_t>(t, out);
    case DataType::kUInt64:
      return WriteNumbers<uint64_t>(t, out);
    case DataType::kInt8:
      return WriteNumbers<int8_t>(t, out);
    case DataType::kInt16:
      return WriteNumbers<int16_t>(t, out);
    case DataType::kInt32:
      return WriteNumbers<int32_t>(t, out);
    case DataType::kInt64:
      return WriteNumbers<int64_t>(t, out);
    case DataType::kFloat32:
      return WriteNumbers<float>(t, out);
    case DataType::kFloat64:
      return WriteNumbers<double>(t, out);
    case DataType::kString:
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (i) out += ',';
        out += JsonString(t.data<std::string>()[i]);
      }
      return;
    default:
      return;
  }
}

std::string ShapeJson(const std::vector<int64_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ","));
}

}  // namespace

std::string ProtocolType(DataType dtype) {
  for (const TypeName& t : kTypes)
    if (t.dtype == dtype) return t.name;
  return "";
}

DataType FromProtocolType(const std::string& name) {
  for (const TypeName& t : kTypes)
    if (name == t.name) return t.dtype;
  return DataType::kUndefined;
}

std::string ErrorJson(const std::string& message) {
  return "{\"error\":" + JsonString(message) + "}";
}

StatusOr<int64_t> ElementCount(const std::vector<int64_t>& dims, const std::string& name) {
  int64_t count = 1;
  for (int64_t v : dims) {
    if (v < 0) return InvalidArgument("input '{}': shape entries must be integers >= 0", name);
    if (v > 0 && count > std::numeric_limits<int64_t>::max() / v)
      return InvalidArgument("input '{}': shape {} is too large", name, ShapeJson(dims));
    count *= v;
  }
  return count;
}

void AppendRawTensor(const Tensor& t, std::string& out) {
  if (t.dtype() != DataType::kString) {
    out.append(static_cast<const char*>(t.raw_data()), DataBytes(t.dtype(), t.numel()));
    return;
  }
  for (int64_t k = 0; k < t.numel(); ++k) {
    const std::string& e = t.data<std::string>()[k];
    const uint32_t len = static_cast<uint32_t>(e.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += e;
  }
}

StatusOr<Tensor> RawTensor(std::string_view bytes, DataType dtype, const std::vector<int64_t>& dims,
                           const std::string& name) {
  HONE_ASSIGN_OR_RETURN(const int64_t count, ElementCount(dims, name));
  Tensor t = Tensor::Empty(dtype, Shape(dims));
  if (dtype != DataType::kString) {
    const size_t want = DataBytes(dtype, count);
    if (bytes.size() != want)
      return InvalidArgument("input '{}': {} bytes of data but shape {} of {} needs {}", name,
                             bytes.size(), ShapeJson(dims), ProtocolType(dtype), want);
    if (want) std::memcpy(t.raw_data(), bytes.data(), want);
    return t;
  }
  size_t at = 0;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    if (bytes.size() - at < 4)
      return InvalidArgument("input '{}': BYTES element {} has no length", name, i);
    std::memcpy(&len, bytes.data() + at, 4);
    at += 4;
    if (len > bytes.size() - at)
      return InvalidArgument("input '{}': BYTES element {} is cut short", name, i);
    t.data<std::string>()[i].assign(bytes.data() + at, len);
    at += len;
  }
  if (at != bytes.size())
    return InvalidArgument("input '{}': {} bytes left after {} BYTES elements", name,
                           bytes.size() - at, count);
  return t;
}

bool InferRequest::Binary(const std::string& output) const {
  return all_binary ||
         std::find(binary_outputs.begin(), binary_outputs.end(), output) != binary_outputs.end();
}

StatusOr<InferRequest> ParseInferRequest(const std::string& body, int64_t json_bytes) {
  if (json_bytes > static_cast<int64_t>(body.size()))
    return InvalidArgument("Inference-Header-Content-Length is {} but the body has {} bytes",
                           json_bytes, body.size());
  const size_t header = json_bytes < 0 ? body.size() : static_cast<size_t>(json_bytes);
  size_t binary_at = header;  // the next input's binary data
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string padded(body.data(), header);
  if (auto err = parser.parse(padded).get(doc))
    return InvalidArgument("the request body is not valid JSON: {}", simdjson::error_message(err));
  if (!doc.is_object()) return InvalidArgument("the request body must be a JSON object");
  InferRequest req;
  std::string_view id;
  if (doc["id"].get(id) == simdjson::SUCCESS) req.id = std::string(id);
  simdjson::dom::array inputs;
  if (doc["inputs"].get(inputs) != simdjson::SUCCESS)
    return InvalidArgument("the request needs an \"inputs\" array");
  for (simdjson::dom::element in : inputs) {
    std::string_view name, datatype;
    if (in["name"].get(name) != simdjson::SUCCESS)
      return InvalidArgument("an input has no \"name\"");
    const std::string n(name);
    if (in["datatype"].get(datatype) != simdjson::SUCCESS)
      return InvalidArgument("input '{}': no \"datatype\"", n);
    const DataType dtype = FromProtocolType(std::string(datatype));
    if (dtype == DataType::kUndefined)
      return InvalidArgument("input '{}': unknown datatype '{}'", n, datatype);
    simdjson::dom::array shape;
    if (in["shape"].get(shape) != simdjson::SUCCESS)
      return InvalidArgument("input '{}': no \"shape\" array", n);
    std::vector<int64_t> dims;
    for (simdjson::dom::element d : shape) {
      int64_t v;
      if (d.get(v) != simdjson::SUCCESS)
        return InvalidArgument("input '{}': shape entries must be integers >= 0", n);
      dims.push_back(v);
    }
    HONE_ASSIGN_OR_RETURN(const int64_t count, ElementCount(dims, n));
    simdjson::dom::element data;
    uint64_t binary_size = 0;
    if (in["parameters"]["binary_data_size"].get(binary_size) == simdjson::SUCCESS) {
      if (json_bytes < 0)
        return InvalidArgument(
            "input '{}': binary_data_size without an Inference-Header-Content-Length header", n);
      if (binary_size > body.size() - binary_at)
        return InvalidArgument("input '{}': binary_data_size {} but only {} bytes are left", n,
                               binary_size, body.size() - binary_at);
      HONE_ASSIGN_OR_RETURN(
          Tensor t,
          RawTensor(std::string_view(body).substr(binary_at, binary_size), dtype, dims, n));
      binary_at += binary_size;
      req.inputs.push_back({n, std::move(t)});
      continue;
    }
    if (in["data"].get(data) != simdjson::SUCCESS)
      return InvalidArgument("input '{}': no \"data\" (or parameters.binary_data_size)", n);
    std::vector<simdjson::dom::element> leaves;
    if (auto err = Flatten(data, leaves))
      return InvalidArgument("input '{}': {}", n, simdjson::error_message(err));
    if (static_cast<int64_t>(leaves.size()) != count)
      return InvalidArgument("input '{}': shape {} holds {} elements, \"data\" has {}", n,
                             ShapeJson(dims), count, leaves.size());
    Tensor t = Tensor::Empty(dtype, Shape(dims));
    HONE_RETURN_IF_ERROR(FillTensor(leaves, t, n));
    req.inputs.push_back({n, std::move(t)});
  }
  if (binary_at != body.size())
    return InvalidArgument(
        "{} bytes of binary data after the JSON header are not used by any input's "
        "binary_data_size",
        body.size() - binary_at);
  bool all = false;
  if (doc["parameters"]["binary_data_output"].get(all) == simdjson::SUCCESS) req.all_binary = all;
  simdjson::dom::array outputs;
  if (doc["outputs"].get(outputs) == simdjson::SUCCESS) {
    for (simdjson::dom::element o : outputs) {
      std::string_view name;
      if (o["name"].get(name) != simdjson::SUCCESS)
        return InvalidArgument("a requested output has no \"name\"");
      req.outputs.emplace_back(name);
      bool binary = false;
      if (o["parameters"]["binary_data"].get(binary) == simdjson::SUCCESS && binary)
        req.binary_outputs.emplace_back(name);
    }
  }
  return req;
}

InferResponse MakeInferResponse(const std::string& model, int64_t version,
                                const InferRequest& request,
                                const std::vector<NamedTensor>& outputs) {
  InferResponse r;
  std::string tail;  // the binary outputs, in order
  std::string& out = r.body;
  out = "{\"model_name\":" + JsonString(model) + ",\"model_version\":\"" + std::to_string(version) +
        "\"";
  if (!request.id.empty()) out += ",\"id\":" + JsonString(request.id);
  out += ",\"outputs\":[";
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i].tensor;
    std::vector<int64_t> dims(t.shape().begin(), t.shape().end());
    if (i) out += ',';
    out += "{\"name\":" + JsonString(outputs[i].name) + ",\"datatype\":\"" +
           ProtocolType(t.dtype()) + "\",\"shape\":" + ShapeJson(dims);
    if (request.Binary(outputs[i].name)) {
      const size_t before = tail.size();
      AppendRawTensor(t, tail);
      out += fmt::format(",\"parameters\":{{\"binary_data_size\":{}}}}}", tail.size() - before);
      continue;
    }
    out += ",\"data\":[";
    WriteData(t, out);
    out += "]}";
  }
  out += "]}";
  if (request.all_binary || !request.binary_outputs.empty()) {
    r.json_bytes = static_cast<int64_t>(out.size());
    out += tail;
  }
  return r;
}

std::string InferResponseJson(const std::string& model, int64_t version, const std::string& id,
                              const std::vector<NamedTensor>& outputs) {
  InferRequest request;
  request.id = id;
  return MakeInferResponse(model, version, request, outputs).body;
}

std::vector<int64_t> MetadataShape(const ModelSpec& spec, const TensorSpec& t) {
  std::vector<int64_t> dims = t.dims;
  if (spec.max_batch_size > 0) dims.insert(dims.begin(), -1);
  return dims;
}

std::string ModelMetadataJson(const ModelSpec& spec, const std::vector<int64_t>& versions) {
  std::vector<std::string> v;
  for (int64_t x : versions) v.push_back("\"" + std::to_string(x) + "\"");
  auto tensors = [&](const std::vector<TensorSpec>& list) {
    std::vector<std::string> items;
    for (const TensorSpec& t : list)
      items.push_back("{\"name\":" + JsonString(t.name) + ",\"datatype\":\"" +
                      ProtocolType(t.dtype) + "\",\"shape\":" + ShapeJson(MetadataShape(spec, t)) +
                      "}");
    return fmt::format("[{}]", fmt::join(items, ","));
  };
  return "{\"name\":" + JsonString(spec.name) + ",\"versions\":[" +
         fmt::format("{}", fmt::join(v, ",")) +
         "],\"platform\":\"onnx\",\"inputs\":" + tensors(spec.inputs) +
         ",\"outputs\":" + tensors(spec.outputs) + "}";
}

}  // namespace hone::serve
