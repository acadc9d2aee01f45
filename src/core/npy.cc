// NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0; C order only).
// Spec: numpy/lib/format.py ("NEP 1").
#include "hone/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/utf8.h"

namespace hone {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct NpyType {
  const char* code;  // without byte-order char
  DataType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"f4", DataType::kFloat32},   {"f8", DataType::kFloat64},     {"f2", DataType::kFloat16},
    {"i1", DataType::kInt8},      {"i2", DataType::kInt16},       {"i4", DataType::kInt32},
    {"i8", DataType::kInt64},     {"u1", DataType::kUInt8},       {"u2", DataType::kUInt16},
    {"u4", DataType::kUInt32},    {"u8", DataType::kUInt64},      {"b1", DataType::kBool},
    {"c8", DataType::kComplex64}, {"c16", DataType::kComplex128},
};

// Finds `'key':` in the header dict and returns the text after the colon.
std::optional<std::string_view> DictValue(std::string_view header, std::string_view key) {
  for (char q : {'\'', '"'}) {
    std::string pat;
    pat.reserve(key.size() + 2);
    pat.push_back(q);
    pat.append(key.data(), key.size());
    pat.push_back(q);
    size_t p = header.find(pat);
    if (p == std::string_view::npos) continue;
    p = header.find(':', p + pat.size());
    if (p == std::string_view::npos) return std::nullopt;
    p++;
    while (p < header.size() && header[p] == ' ') p++;
    return header.substr(p);
  }
  return std::nullopt;
}

}  // namespace

StatusOr<Tensor> ParseNpy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kMagicLen + 4 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    return InvalidArgument("{}: not a .npy file (missing \\x93NUMPY magic)", what);
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return InvalidArgument("{}: truncated .npy header", what);
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    header_start = 12;
  } else {
    return NotSupported("{}: .npy format version {} (supported: 1, 2, 3)", what, major);
  }
  if (header_start + header_len > bytes.size())
    return InvalidArgument("{}: truncated .npy header", what);
  std::string_view header(bytes.data() + header_start, header_len);

  auto descr = DictValue(header, "descr");
  auto fortran = DictValue(header, "fortran_order");
  auto shape_txt = DictValue(header, "shape");
  if (!descr || !fortran || !shape_txt)
    return InvalidArgument("{}: .npy header lacks descr, fortran_order or shape: {}", what,
                           std::string(header));
  if (fortran->substr(0, 4) != "Fals")
    return NotSupported("{}: Fortran-order arrays are not supported; save with C order", what);
  if (descr->empty() || ((*descr)[0] != '\'' && (*descr)[0] != '"'))
    return NotSupported("{}: structured .npy dtypes are not supported", what);
  size_t end = descr->find((*descr)[0], 1);
  if (end == std::string_view::npos) return InvalidArgument("{}: malformed descr", what);
  std::string_view code = descr->substr(1, end - 1);
  std::optional<DataType> dtype;
  // Fixed-width text: '<U8' (UTF-32, 8 code points) or '|S8' (8 bytes), NUL-padded.
  size_t text_width = 0, text_unit = 0;
  if (code.size() > 2 && (code.substr(0, 2) == "<U" || code.substr(0, 2) == "|U" ||
                          code.substr(0, 2) == "=U" || code.substr(0, 2) == "|S")) {
    for (char ch : code.substr(2)) {
      if (ch < '0' || ch > '9' || text_width > (size_t{1} << 20))
        return InvalidArgument("{}: malformed text dtype '{}'", what, std::string(code));
      text_width = text_width * 10 + static_cast<size_t>(ch - '0');
    }
    text_unit = code[1] == 'U' ? 4 : 1;
    dtype = DataType::kString;
  }
  if (code == "?" || code == "|b1") dtype = DataType::kBool;
  char order = code.empty() ? '?' : code[0];
  if (!dtype && (order == '<' || order == '|' || order == '=')) {
    std::string_view c = code.substr(1);
    for (const auto& t : kNpyTypes)
      if (c == t.code) dtype = t.dtype;
  }
  if (!dtype) {
    if (order == '>' && code.size() > 1 && code.substr(1) != "u1" && code.substr(1) != "i1")
      return NotSupported("{}: big-endian dtype '{}' (save as little-endian)", what,
                          std::string(code));
    return NotSupported("{}: .npy dtype '{}' is not supported", what, std::string(code));
  }

  // shape: "(1, 3, 224, 224)" or "()" or "(5,)"
  if (shape_txt->empty() || (*shape_txt)[0] != '(')
    return InvalidArgument("{}: malformed shape in .npy header", what);
  size_t close = shape_txt->find(')');
  if (close == std::string_view::npos) return InvalidArgument("{}: malformed shape", what);
  std::vector<int64_t> shape;
  std::string_view inner = shape_txt->substr(1, close - 1);
  size_t i = 0;
  while (i < inner.size()) {
    while (i < inner.size() && (inner[i] == ' ' || inner[i] == ',')) i++;
    if (i >= inner.size()) break;
    int64_t v = 0;
    bool any = false;
    while (i < inner.size() && inner[i] >= '0' && inner[i] <= '9') {
      v = v * 10 + (inner[i] - '0');
      if (v > (int64_t{1} << 40)) return InvalidArgument("{}: dimension too large", what);
      i++;
      any = true;
    }
    if (!any) return InvalidArgument("{}: malformed shape '{}'", what, std::string(inner));
    shape.push_back(v);
    while (i < inner.size() && inner[i] == 'L') i++;
  }
  size_t data_start = header_start + header_len;
  int64_t n = ShapeSize(shape);
  if (*dtype == DataType::kString) {
    const size_t item = text_width * text_unit;
    if ((bytes.size() - data_start) / std::max<size_t>(item, 1) < static_cast<size_t>(n))
      return InvalidArgument("{}: .npy data truncated: shape {} of text needs {} bytes", what,
                             ShapeToString(shape), static_cast<size_t>(n) * item);
    Tensor t = Tensor::Empty(DataType::kString, shape);
    for (int64_t e = 0; e < n; ++e) {
      const char* p = bytes.data() + data_start + static_cast<size_t>(e) * item;
      std::string& out = t.data<std::string>()[e];
      for (size_t k = 0; k < text_width; ++k) {
        uint32_t c = 0;
        if (text_unit == 4) {
          std::memcpy(&c, p + 4 * k, 4);
        } else {
          c = static_cast<unsigned char>(p[k]);
        }
        if (c == 0) break;
        if (c >= 0x110000)
          return InvalidArgument("{}: element {} holds an invalid code point", what, e);
        if (text_unit == 1)
          out.push_back(static_cast<char>(c));  // bytes are kept as they are
        else
          EncodeUtf8(c, out);
      }
    }
    return t;
  }
  size_t need = static_cast<size_t>(n) * DataTypeSize(*dtype);
  if (bytes.size() - data_start < need)
    return InvalidArgument("{}: .npy data truncated: shape {} of {} needs {} bytes, file has {}",
                           what, ShapeToString(shape), DataTypeName(*dtype), need,
                           bytes.size() - data_start);
  Tensor t = Tensor::Empty(*dtype, shape);
  if (need) std::memcpy(t.raw_data(), bytes.data() + data_start, need);
  return t;
}

StatusOr<Tensor> ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseNpy(ss.str(), path);
}

namespace {

// Strings as NumPy's '<U{width}': UTF-32 code points, NUL-padded to the longest element.
std::string Utf32Text(const Tensor& t, size_t& width) {
  std::vector<std::vector<uint32_t>> points(static_cast<size_t>(t.numel()));
  width = 1;
  for (int64_t e = 0; e < t.numel(); ++e) {
    const std::string& s = t.data<std::string>()[e];
    auto& cps = points[static_cast<size_t>(e)];
    for (size_t i = 0; i < s.size();) {
      bool ok = true;
      cps.push_back(DecodeUtf8(s, i, ok));
    }
    width = std::max(width, cps.size());
  }
  std::string out(points.size() * width * 4, '\0');
  for (size_t e = 0; e < points.size(); ++e)
    if (!points[e].empty())
      std::memcpy(out.data() + e * width * 4, points[e].data(), points[e].size() * 4);
  return out;
}

}  // namespace

Status WriteNpy(const std::string& path, const Tensor& tensor) {
  const char* code = nullptr;
  for (const auto& t : kNpyTypes)
    if (t.dtype == tensor.dtype()) code = t.code;
  std::string text, text_code;
  if (tensor.dtype() == DataType::kString) {
    size_t width = 0;
    text = Utf32Text(tensor, width);
    text_code = "U" + std::to_string(width);
    code = text_code.c_str();
  }
  if (code == nullptr)
    return NotSupported("cannot write {} tensor to .npy: NumPy has no such dtype",
                        DataTypeName(tensor.dtype()));
  // NumPy's tuple syntax: "()", "(5,)", "(1, 3)".
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    if (i) shape += ", ";
    shape += std::to_string(tensor.shape()[i]);
  }
  shape += tensor.shape().size() == 1 ? ",)" : ")";
  std::string dict = std::string("{'descr': '") + (tensor.dtype() == DataType::kBool ? "|" : "<") +
                     code + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Total header (magic + 4 + dict + '\n') padded to a multiple of 64.
  size_t total = kMagicLen + 4 + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot create '{}'", path);
  f.write(kMagic, kMagicLen);
  char ver[2] = {1, 0};
  f.write(ver, 2);
  uint16_t len = static_cast<uint16_t>(dict.size());
  char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(len_bytes, 2);
  f.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  if (tensor.dtype() == DataType::kString)
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
  else
    f.write(static_cast<const char*>(tensor.raw_data()),
            static_cast<std::streamsize>(tensor.nbytes()));
  if (!f) return Internal("failed writing '{}'", path);
  return Status::Ok();
}

}  // namespace hone
