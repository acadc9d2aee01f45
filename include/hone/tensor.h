// hone/tensor.h: data types and the Tensor value.
//
//   hone::Tensor x = hone::Tensor::Empty(hone::DataType::kFloat32, {1, 3, 224, 224});
//   float* p = x.data<float>();                 // x.numel() elements, C order
//   hone::Tensor y = x.Reshaped({1, 3 * 224 * 224});   // shares x's bytes
//
// A Tensor is a dense, C-ordered view (dtype, shape, byte offset) over a shared Buffer. Copies of a
// Tensor share the buffer; Clone() copies the bytes. Allocated buffers are 64-byte aligned and
// padded by at least 64 bytes; borrowed ones (weights moved out of the model file's protobuf, or
// memory-mapped external data) have only their element alignment and no padding, so kernels
// must not read past a tensor's end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hone/shape.h"

namespace hone {

// The values are ONNX's TensorProto.DataType codes.
enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
};

// Bytes per element; 0 for kUndefined, kString and the 4-bit types (which are packed two per byte).
size_t DataTypeSize(DataType dtype);
// "float32", "int64", "bool", ... (NumPy-like names).
const char* DataTypeName(DataType dtype);
std::optional<DataType> DataTypeFromName(std::string_view name);
bool IsFloatingPoint(DataType dtype);
bool IsInteger(DataType dtype);

// Owns (or borrows, with a keep-alive) a block of bytes. For kString buffers it owns
// std::string objects constructed in place.
class Buffer {
 public:
  // Aligned to 64 bytes, padded by 64 bytes past `bytes`. Contents are zeroed unless `zero` is
  // false (for writers that fill every byte).
  static std::shared_ptr<Buffer> Allocate(size_t bytes, bool zero = true);
  // `count` default-constructed std::string objects.
  static std::shared_ptr<Buffer> AllocateStrings(size_t count);
  // Borrows `data`; `keep_alive` is held until the buffer dies (e.g. an mmap region).
  static std::shared_ptr<Buffer> Borrow(void* data, size_t bytes, std::shared_ptr<void> keep_alive);

  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

  // Only Buffer's factories can name Key (so make_shared can build one in a single allocation).
  class Key {
    friend class Buffer;
    Key() = default;
  };
  explicit Buffer(Key) {}

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
  size_t string_count_ = 0;  // > 0: data_ holds std::string objects
  bool owned_ = false;
  std::shared_ptr<void> keep_alive_;
};

class Tensor {
 public:
  Tensor() = default;
  // Allocates zeroed storage (empty strings for kString).
  static Tensor Empty(DataType dtype, Shape shape);
  // Allocates storage with unspecified contents (not for kString): for kernels that write every
  // element, so the allocation does not touch the memory twice.
  static Tensor Uninitialized(DataType dtype, Shape shape);
  // Views `buffer` starting at byte `offset`; the caller guarantees it is large enough.
  Tensor(DataType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t offset = 0);

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return numel_; }  // cached: kernels call it in loop conditions
  size_t nbytes() const;

  void* raw_data() const;
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw_data());
  }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }

  // A view with another shape of the same element count.
  Tensor Reshaped(Shape shape) const;
  // A view of rows [begin, begin + count) along axis 0 (rank >= 1; not for 4-bit types).
  Tensor Rows(int64_t begin, int64_t count) const;
  // A deep copy.
  Tensor Clone() const;

 private:
  DataType dtype_ = DataType::kUndefined;
  Shape shape_;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
  int64_t numel_ = 0;  // ShapeSize(shape_); the shape never changes after construction
};

// Bytes that `numel` elements of `dtype` occupy (4-bit types packed two per byte).
size_t DataBytes(DataType dtype, int64_t numel);
// Number of elements of a shape (1 for a scalar).
int64_t ShapeSize(const Shape& shape);
// "[1,3,224,224]"
std::string ShapeToString(const Shape& shape);

}  // namespace hone
