#include "hone/tensor.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "core/buffer_stats.h"
#include "core/errors.h"

namespace hone {
namespace {
constexpr size_t kAlignment = 64;
constexpr size_t kPadding = 64;
}  // namespace

size_t DataTypeSize(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return 4;
    case DataType::kUInt8:
      return 1;
    case DataType::kInt8:
      return 1;
    case DataType::kUInt16:
      return 2;
    case DataType::kInt16:
      return 2;
    case DataType::kInt32:
      return 4;
    case DataType::kInt64:
      return 8;
    case DataType::kBool:
      return 1;
    case DataType::kFloat16:
      return 2;
    case DataType::kFloat64:
      return 8;
    case DataType::kUInt32:
      return 4;
    case DataType::kUInt64:
      return 8;
    case DataType::kComplex64:
      return 8;
    case DataType::kComplex128:
      return 16;
    case DataType::kBFloat16:
      return 2;
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:
      return 1;
    default:
      return 0;
  }
}

namespace {
struct DtypeName {
  DataType dtype;
  const char* name;
};
constexpr DtypeName kDtypeNames[] = {
    {DataType::kFloat32, "float32"},
    {DataType::kUInt8, "uint8"},
    {DataType::kInt8, "int8"},
    {DataType::kUInt16, "uint16"},
    {DataType::kInt16, "int16"},
    {DataType::kInt32, "int32"},
    {DataType::kInt64, "int64"},
    {DataType::kString, "string"},
    {DataType::kBool, "bool"},
    {DataType::kFloat16, "float16"},
    {DataType::kFloat64, "float64"},
    {DataType::kUInt32, "uint32"},
    {DataType::kUInt64, "uint64"},
    {DataType::kComplex64, "complex64"},
    {DataType::kComplex128, "complex128"},
    {DataType::kBFloat16, "bfloat16"},
    {DataType::kFloat8E4M3FN, "float8e4m3fn"},
    {DataType::kFloat8E4M3FNUZ, "float8e4m3fnuz"},
    {DataType::kFloat8E5M2, "float8e5m2"},
    {DataType::kFloat8E5M2FNUZ, "float8e5m2fnuz"},
    {DataType::kUInt4, "uint4"},
    {DataType::kInt4, "int4"},
};
}  // namespace

const char* DataTypeName(DataType dtype) {
  for (const auto& e : kDtypeNames)
    if (e.dtype == dtype) return e.name;
  return "undefined";
}

std::optional<DataType> DataTypeFromName(std::string_view name) {
  for (const auto& e : kDtypeNames)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

bool IsFloatingPoint(DataType d) {
  return d == DataType::kFloat32 || d == DataType::kFloat64 || d == DataType::kFloat16 ||
         d == DataType::kBFloat16;
}

bool IsInteger(DataType d) {
  switch (d) {
    case DataType::kUInt8:
    case DataType::kInt8:
    case DataType::kUInt16:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUInt32:
    case DataType::kUInt64:
      return true;
    default:
      return false;
  }
}

namespace {

// Keeps freed large blocks for reuse by size. Steady-state runs allocate the same activation
// sizes every time; without this, glibc returns each large block to the kernel on free and the
// next run page-faults it all back in (that alone made PP-OCR det 3x and a batch-540 CNN 12x
// slower). Bounded in bytes. Planned runs take their activations from an arena instead
// (runtime/arena.h); this serves first runs of a shape, graph outputs and unplanned runs.
class BlockCache {
 public:
  static BlockCache& Get() {
    static BlockCache* cache = new BlockCache();  // never destroyed: buffers may outlive statics
    return *cache;
  }
  void* Take(size_t total) {
    if (total < kMinBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(total);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    held_ -= total;
    return p;
  }
  void Trim() {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocks.swap(free_);
      held_ = 0;
    }
    for (auto& [size, p] : blocks) std::free(p);
  }
  // True when the cache keeps `p`; false means the caller frees it.
  bool Give(void* p, size_t total) {
    if (total < kMinBytes) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (held_ + total > kMaxHeldBytes) return false;
    free_.emplace(total, p);
    held_ += total;
    return true;
  }

 private:
  // Small blocks too: glibc trims freed heap tops back to the OS, and the next run page-faults
  // them in again (PP-OCR cls spent half its time in page faults with a 128 KiB floor).
  static constexpr size_t kMinBytes = size_t{1} << 12;
  static constexpr size_t kMaxHeldBytes = size_t{1} << 30;  // 1 GiB of idle blocks at most
  std::mutex mu_;                                           // guards free_ and held_
  std::multimap<size_t, void*> free_;
  size_t held_ = 0;
};

}  // namespace

namespace {
std::atomic<uint64_t> g_heap_buffers{0};
}  // namespace

uint64_t HeapBufferAllocations() { return g_heap_buffers.load(std::memory_order_relaxed); }

void ReleaseCachedBuffers() { BlockCache::Get().Trim(); }

std::shared_ptr<Buffer> Buffer::Allocate(size_t bytes, bool zero) {
  g_heap_buffers.fetch_add(1, std::memory_order_relaxed);
  size_t total = (bytes + kPadding + kAlignment - 1) / kAlignment * kAlignment;
  void* p = BlockCache::Get().Take(total);
  if (p == nullptr) p = std::aligned_alloc(kAlignment, total);
  if (p == nullptr) throw std::bad_alloc();
  if (zero) {
    std::memset(p, 0, total);
  } else {
    std::memset(static_cast<char*>(p) + bytes, 0, total - bytes);  // the padding stays defined
  }
  auto b = std::make_shared<Buffer>(Key());
  b->data_ = p;
  b->size_ = bytes;
  b->owned_ = true;
  return b;
}

std::shared_ptr<Buffer> Buffer::AllocateStrings(size_t count) {
  auto b = Allocate(count * sizeof(std::string));
  auto* s = static_cast<std::string*>(b->data_);
  for (size_t i = 0; i < count; ++i) new (&s[i]) std::string();
  b->string_count_ = count;
  return b;
}

std::shared_ptr<Buffer> Buffer::Borrow(void* data, size_t bytes, std::shared_ptr<void> keep_alive) {
  auto b = std::make_shared<Buffer>(Key());
  b->data_ = data;
  b->size_ = bytes;
  b->keep_alive_ = std::move(keep_alive);
  return b;
}

Buffer::~Buffer() {
  if (string_count_ > 0) {
    auto* s = static_cast<std::string*>(data_);
    for (size_t i = 0; i < string_count_; ++i) s[i].~basic_string();
  }
  if (owned_) {
    const size_t total = (size_ + kPadding + kAlignment - 1) / kAlignment * kAlignment;
    if (!BlockCache::Get().Give(data_, total)) std::free(data_);
  }
}

int64_t ShapeSize(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

size_t DataBytes(DataType dtype, int64_t n) {
  if (dtype == DataType::kInt4 || dtype == DataType::kUInt4)
    return static_cast<size_t>((n + 1) / 2);
  if (dtype == DataType::kString) return static_cast<size_t>(n) * sizeof(std::string);
  return static_cast<size_t>(n) * DataTypeSize(dtype);
}

Tensor Tensor::Empty(DataType dtype, Shape shape) {
  int64_t n = ShapeSize(shape);
  HONE_CHECK(n >= 0);
  std::shared_ptr<Buffer> buf = dtype == DataType::kString
                                    ? Buffer::AllocateStrings(static_cast<size_t>(n))
                                    : Buffer::Allocate(DataBytes(dtype, n));
  return Tensor(dtype, std::move(shape), std::move(buf), 0);
}

Tensor Tensor::Uninitialized(DataType dtype, Shape shape) {
  if (dtype == DataType::kString) return Empty(dtype, std::move(shape));
  int64_t n = ShapeSize(shape);
  HONE_CHECK(n >= 0);
  return Tensor(dtype, std::move(shape), Buffer::Allocate(DataBytes(dtype, n), /*zero=*/false), 0);
}

Tensor::Tensor(DataType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t offset)
    : dtype_(dtype),
      shape_(std::move(shape)),
      buffer_(std::move(buffer)),
      offset_(offset),
      numel_(ShapeSize(shape_)) {}

size_t Tensor::nbytes() const { return DataBytes(dtype_, numel()); }

void* Tensor::raw_data() const {
  if (!buffer_) return nullptr;
  return static_cast<char*>(buffer_->data()) + offset_;
}

Tensor Tensor::Reshaped(Shape shape) const {
  HONE_CHECK(ShapeSize(shape) == numel());
  return Tensor(dtype_, std::move(shape), buffer_, offset_);
}

Tensor Tensor::Rows(int64_t begin, int64_t count) const {
  HONE_CHECK(rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= dim(0));
  if (begin == 0 && count == dim(0)) return *this;
  Shape shape = shape_;
  shape[0] = count;
  const int64_t row = dim(0) ? numel() / dim(0) : 0;
  const size_t elem = dtype_ == DataType::kString ? sizeof(std::string) : DataTypeSize(dtype_);
  return Tensor(dtype_, std::move(shape), buffer_,
                offset_ + static_cast<size_t>(begin * row) * elem);
}

Tensor Tensor::Clone() const {
  Tensor t = Empty(dtype_, shape_);
  if (dtype_ == DataType::kString) {
    for (int64_t i = 0; i < numel(); ++i) t.data<std::string>()[i] = data<std::string>()[i];
  } else if (nbytes() > 0) {
    std::memcpy(t.raw_data(), raw_data(), nbytes());
  }
  return t;
}

}  // namespace hone
