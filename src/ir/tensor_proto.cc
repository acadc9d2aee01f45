#include "ir/tensor_proto.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "onnx/onnx_pb.h"

namespace hone {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;

StatusOr<std::vector<int64_t>> DimsOf(const google::protobuf::RepeatedField<int64_t>& dims,
                                      const std::string& what) {
  std::vector<int64_t> shape(dims.begin(), dims.end());
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidModel("tensor '{}': negative dimension {}", what, d);
    if (d > 0 && n > kMaxElements / d)
      return InvalidModel("tensor '{}': shape {} is too large", what, ShapeToString(shape));
    n *= d;
  }
  return shape;
}

bool IsKnownDtype(int32_t t) { return t >= 1 && t <= 22; }

template <typename Dst, typename Field>
void CopyField(const Field& field, Tensor& t) {
  Dst* dst = t.data<Dst>();
  int64_t i = 0;
  for (auto v : field) dst[i++] = static_cast<Dst>(v);
}

}  // namespace

namespace {

struct ExternalRegion {
  fs::path file;
  int64_t offset = 0, length = 0;
};

// Checks an external-data reference (location confined to base_dir, region inside the file).
StatusOr<ExternalRegion> ResolveExternal(const std::string& base_dir, const std::string& location,
                                         int64_t offset, int64_t length, const std::string& what) {
  if (base_dir.empty())
    return InvalidModel(
        "tensor '{}': uses external data '{}' but the model was loaded from bytes "
        "without a base folder",
        what, location);
  fs::path loc(location);
  if (location.empty() || loc.is_absolute())
    return InvalidModel(
        "tensor '{}': external data location '{}' must be a relative path inside "
        "the model's folder",
        what, location);
  for (const auto& part : loc)
    if (part == "..")
      return InvalidModel("tensor '{}': external data location '{}' escapes the model's folder",
                          what, location);
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  fs::path full = fs::weakly_canonical(fs::path(base_dir) / loc, ec);
  if (ec) return InvalidModel("tensor '{}': cannot resolve external data '{}'", what, location);
  auto rel = full.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..")
    return InvalidModel(
        "tensor '{}': external data '{}' resolves outside the model's folder "
        "(symbolic link?)",
        what, location);
  std::ifstream f(full, std::ios::binary);
  if (!f) return InvalidModel("tensor '{}': cannot open external data file '{}'", what, location);
  f.seekg(0, std::ios::end);
  int64_t size = static_cast<int64_t>(f.tellg());
  if (offset < 0 || offset > size)
    return InvalidModel("tensor '{}': external data offset {} is past the end of '{}' ({} bytes)",
                        what, offset, location, size);
  if (length < 0) length = size - offset;
  if (length > size - offset)
    return InvalidModel(
        "tensor '{}': external data offset {} + length {} is past the end of '{}' "
        "({} bytes)",
        what, offset, length, location, size);
  return ExternalRegion{full, offset, length};
}

}  // namespace

StatusOr<std::string> ReadExternalData(const std::string& base_dir, const std::string& location,
                                       int64_t offset, int64_t length, const std::string& what) {
  HONE_ASSIGN_OR_RETURN(ExternalRegion r,
                        ResolveExternal(base_dir, location, offset, length, what));
  std::ifstream f(r.file, std::ios::binary);
  std::string out(static_cast<size_t>(r.length), '\0');
  f.seekg(r.offset);
  f.read(out.data(), r.length);
  if (!f) return InvalidModel("tensor '{}': failed reading external data '{}'", what, location);
  return out;
}

StatusOr<std::shared_ptr<Buffer>> MapExternalData(const std::string& base_dir,
                                                  const std::string& location, int64_t offset,
                                                  int64_t length, const std::string& what) {
  HONE_ASSIGN_OR_RETURN(ExternalRegion r,
                        ResolveExternal(base_dir, location, offset, length, what));
  if (r.length == 0) return Buffer::Allocate(0);
  const int fd = ::open(r.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return InvalidModel("tensor '{}': cannot open external data file '{}'", what, location);
  const int64_t page = ::sysconf(_SC_PAGESIZE);
  const int64_t start = r.offset / page * page, delta = r.offset - start;
  const size_t span = static_cast<size_t>(r.length + delta);
  // Private and writable: pages stay shared with the page cache until something writes them.
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, start);
  ::close(fd);
  if (p == MAP_FAILED)
    return InvalidModel("tensor '{}': cannot map external data '{}'", what, location);
  std::shared_ptr<void> mapping(p, [span](void* q) { ::munmap(q, span); });
  return Buffer::Borrow(static_cast<char*>(p) + delta, static_cast<size_t>(r.length),
                        std::move(mapping));
}

StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& p, const std::string& base_dir,
                                 const std::string& what) {
  if (!IsKnownDtype(p.data_type()))
    return InvalidModel("tensor '{}': unknown data type {}", what, p.data_type());
  const DataType dtype = static_cast<DataType>(p.data_type());
  if (p.has_segment()) return NotSupported("tensor '{}': segmented tensors", what);
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, DimsOf(p.dims(), what));
  const int64_t n = ShapeSize(shape);
  const size_t nbytes = Tensor(dtype, shape, nullptr).nbytes();  // no storage yet

  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : p.external_data()) {
      char* end = nullptr;
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        long long v = std::strtoll(kv.value().c_str(), &end, 10);
        if (end == kv.value().c_str() || *end != '\0' || v < 0)
          return InvalidModel("tensor '{}': bad external data {} '{}'", what, kv.key(), kv.value());
        (kv.key() == "offset" ? offset : length) = v;
      }
    }
    if (dtype == DataType::kString)
      return NotSupported("tensor '{}': string tensors in external data", what);
    const size_t need = nbytes;
    if (length < 0) length = static_cast<int64_t>(need);
    // Weights in external data are memory-mapped, not copied.
    HONE_ASSIGN_OR_RETURN(auto buf, MapExternalData(base_dir, location, offset, length, what));
    if (buf->size() != need)
      return InvalidModel("tensor '{}': external data has {} bytes, shape {} of {} needs {}", what,
                          buf->size(), ShapeToString(shape), DataTypeName(dtype), need);
    return Tensor(dtype, shape, std::move(buf));
  }

  Tensor t = Tensor::Empty(dtype, shape);
  if (p.has_raw_data()) {
    if (dtype == DataType::kString)
      return InvalidModel("tensor '{}': string tensors cannot use raw_data", what);
    if (p.raw_data().size() != t.nbytes())
      return InvalidModel("tensor '{}': raw_data has {} bytes, shape {} of {} needs {}", what,
                          p.raw_data().size(), ShapeToString(shape), DataTypeName(dtype),
                          t.nbytes());
    if (t.nbytes()) std::memcpy(t.raw_data(), p.raw_data().data(), t.nbytes());
    return t;
  }

  auto count_error = [&](int64_t got) {
    return InvalidModel("tensor '{}': has {} values, shape {} needs {}", what, got,
                        ShapeToString(shape), n);
  };
  switch (dtype) {
    case DataType::kFloat32:
      if (p.float_data_size() != n) return count_error(p.float_data_size());
      CopyField<float>(p.float_data(), t);
      break;
    case DataType::kComplex64:
      if (p.float_data_size() != 2 * n) return count_error(p.float_data_size() / 2);
      CopyField<float>(p.float_data(), t);
      break;
    case DataType::kFloat64:
      if (p.double_data_size() != n) return count_error(p.double_data_size());
      CopyField<double>(p.double_data(), t);
      break;
    case DataType::kComplex128:
      if (p.double_data_size() != 2 * n) return count_error(p.double_data_size() / 2);
      CopyField<double>(p.double_data(), t);
      break;
    case DataType::kInt64:
      if (p.int64_data_size() != n) return count_error(p.int64_data_size());
      CopyField<int64_t>(p.int64_data(), t);
      break;
    case DataType::kUInt32:
      if (p.uint64_data_size() != n) return count_error(p.uint64_data_size());
      CopyField<uint32_t>(p.uint64_data(), t);
      break;
    case DataType::kUInt64:
      if (p.uint64_data_size() != n) return count_error(p.uint64_data_size());
      CopyField<uint64_t>(p.uint64_data(), t);
      break;
    case DataType::kInt32:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      CopyField<int32_t>(p.int32_data(), t);
      break;
    case DataType::kInt16:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      CopyField<int16_t>(p.int32_data(), t);
      break;
    case DataType::kUInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:
      // float16/bfloat16 are stored as their bit patterns.
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      CopyField<uint16_t>(p.int32_data(), t);
      break;
    case DataType::kInt8:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      CopyField<int8_t>(p.int32_data(), t);
      break;
    case DataType::kUInt8:
    case DataType::kBool:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      CopyField<uint8_t>(p.int32_data(), t);
      break;
    case DataType::kInt4:
    case DataType::kUInt4: {
      // Two 4-bit values per int32_data entry's low byte, low nibble first.
      if (p.int32_data_size() != (n + 1) / 2) return count_error(p.int32_data_size() * 2);
      CopyField<uint8_t>(p.int32_data(), t);
      break;
    }
    case DataType::kString: {
      if (p.string_data_size() != n) return count_error(p.string_data_size());
      std::string* dst = t.data<std::string>();
      for (int64_t i = 0; i < n; ++i) dst[i] = p.string_data(static_cast<int>(i));
      break;
    }
    default:
      return NotSupported("tensor '{}': data type {}", what, DataTypeName(dtype));
  }
  return t;
}

StatusOr<Tensor> TakeTensorFromProto(onnx::TensorProto& p, const std::string& base_dir,
                                     const std::string& what) {
  // Large raw_data blobs move into the tensor (no copy); everything else goes the usual way.
  constexpr size_t kMinTakeBytes = 4096;
  if (p.has_raw_data() && p.raw_data().size() >= kMinTakeBytes && IsKnownDtype(p.data_type()) &&
      static_cast<DataType>(p.data_type()) != DataType::kString && !p.has_segment() &&
      p.data_location() != onnx::TensorProto::EXTERNAL) {
    const DataType dtype = static_cast<DataType>(p.data_type());
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, DimsOf(p.dims(), what));
    const size_t nbytes = Tensor(dtype, shape, nullptr).nbytes();
    if (p.raw_data().size() == nbytes) {
      std::shared_ptr<std::string> bytes(p.release_raw_data());
      void* data = bytes->data();
      return Tensor(dtype, std::move(shape), Buffer::Borrow(data, nbytes, std::move(bytes)));
    }
  }
  return TensorFromProto(p, base_dir, what);
}

StatusOr<Tensor> TensorFromSparseProto(const onnx::SparseTensorProto& p,
                                       const std::string& base_dir, const std::string& what) {
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, DimsOf(p.dims(), what));
  HONE_ASSIGN_OR_RETURN(Tensor values, TensorFromProto(p.values(), base_dir, what + " (values)"));
  HONE_ASSIGN_OR_RETURN(Tensor indices,
                        TensorFromProto(p.indices(), base_dir, what + " (indices)"));
  if (values.dtype() == DataType::kString)
    return NotSupported("sparse tensor '{}': string values", what);
  if (indices.dtype() != DataType::kInt64)
    return InvalidModel("sparse tensor '{}': indices must be int64", what);
  const int64_t nnz = values.rank() == 1 ? values.dim(0) : -1;
  if (nnz < 0) return InvalidModel("sparse tensor '{}': values must be 1-D", what);
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t total = ShapeSize(shape);
  Tensor dense = Tensor::Empty(values.dtype(), shape);
  const size_t esize = DataTypeSize(values.dtype());
  const int64_t* idx = indices.data<int64_t>();
  bool linear = indices.rank() == 1 && indices.dim(0) == nnz;
  bool coords = indices.rank() == 2 && indices.dim(0) == nnz && indices.dim(1) == rank;
  if (!linear && !coords)
    return InvalidModel("sparse tensor '{}': indices shape {} does not fit {} values of rank {}",
                        what, ShapeToString(indices.shape()), nnz, rank);
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t off = 0;
    if (linear) {
      off = idx[k];
    } else {
      for (int64_t d = 0; d < rank; ++d) {
        int64_t c = idx[k * rank + d];
        if (c < 0 || c >= shape[static_cast<size_t>(d)])
          return InvalidModel("sparse tensor '{}': index {} out of range", what, c);
        off = off * shape[static_cast<size_t>(d)] + c;
      }
    }
    if (off < 0 || off >= total)
      return InvalidModel("sparse tensor '{}': index {} out of range [0, {})", what, off, total);
    std::memcpy(static_cast<char*>(dense.raw_data()) + off * esize,
                static_cast<const char*>(values.raw_data()) + k * esize, esize);
  }
  return dense;
}

}  // namespace hone
