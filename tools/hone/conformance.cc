// hone conformance DIR...: runs ONNX backend test cases (../shared/onnx-tests layout):
//   <case>/model.onnx, <case>/test_data_set_N/{input,output}_K.pb
// Pass rule: same dtype and shape; floats within rtol 1e-3, atol 1e-7 (NaN equals NaN);
// integers, bools and strings exactly.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli.h"
#include "core/half.h"
#include "ir/tensor_proto.h"
#include "onnx/onnx_pb.h"
// after onnx_pb.h, which defines ONNX_API
#include "onnx/onnx-data_pb.h"

namespace hone::cli {
namespace fs = std::filesystem;
namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

StatusOr<Tensor> LoadPb(const fs::path& p) {
  onnx::TensorProto proto;
  std::string bytes = ReadFile(p);
  if (!proto.ParseFromString(bytes))
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{}: not a TensorProto", p.filename().string()));
  return TensorFromProto(proto, p.parent_path().string(), p.filename().string());
}

StatusOr<Value> SequenceFromProto(const onnx::SequenceProto& sp, const fs::path& p) {
  std::vector<Tensor> items;
  for (const auto& t : sp.tensor_values()) {
    HONE_ASSIGN_OR_RETURN(Tensor x,
                          TensorFromProto(t, p.parent_path().string(), p.filename().string()));
    items.push_back(std::move(x));
  }
  if (sp.sequence_values_size() || sp.map_values_size() || sp.optional_values_size())
    return Status(StatusCode::kNotSupported, "nested sequences/maps are not supported");
  DataType d = items.empty() ? DataType::kFloat32 : items[0].dtype();
  return Value::Sequence(std::move(items), d);
}

// ONNX's test generator stores bfloat16 tensors as UINT16 TensorProtos holding the same bits
// (NumPy has no bfloat16). Where the graph declares bfloat16, read them as bfloat16.
Tensor AsDeclared(Tensor t, DataType declared) {
  if (declared == DataType::kBFloat16 && t.dtype() == DataType::kUInt16)
    return Tensor(DataType::kBFloat16, t.shape(), t.buffer(), 0);
  return t;
}

// Reads input_K.pb / output_K.pb as the kind the graph declares.
StatusOr<Value> LoadValue(const fs::path& p, ValueInfo::Kind kind, DataType declared) {
  using K = ValueInfo::Kind;
  std::string bytes = ReadFile(p);
  if (kind == K::kSequence) {
    onnx::SequenceProto sp;
    if (!sp.ParseFromString(bytes))
      return Status(StatusCode::kInvalidArgument, p.filename().string() + ": not a SequenceProto");
    return SequenceFromProto(sp, p);
  }
  if (kind == K::kOptionalTensor || kind == K::kOptionalSequence) {
    onnx::OptionalProto op;
    if (!op.ParseFromString(bytes))
      return Status(StatusCode::kInvalidArgument, p.filename().string() + ": not an OptionalProto");
    if (op.has_tensor_value()) {
      HONE_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(op.tensor_value(), p.parent_path().string(),
                                                      p.filename().string()));
      return Value(t);
    }
    if (op.has_sequence_value()) return SequenceFromProto(op.sequence_value(), p);
    return Value::None();
  }
  if (kind == K::kOther) return Status(StatusCode::kNotSupported, "map values are not supported");
  HONE_ASSIGN_OR_RETURN(Tensor t, LoadPb(p));
  return Value(AsDeclared(t, declared));
}

double AsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[i];
    case DataType::kFloat64:
      return t.data<double>()[i];
    case DataType::kFloat16:
      return Half::ToFloat(t.data<uint16_t>()[i]);
    case DataType::kBFloat16:
      return BitsToFloat(static_cast<uint32_t>(t.data<uint16_t>()[i]) << 16);
    default:
      return 0;
  }
}

// Empty string when `actual` matches `expected`, else the reason.
std::string Compare(const Tensor& expected, const Tensor& actual) {
  if (expected.dtype() != actual.dtype())
    return fmt::format("dtype: expected {}, got {}", DataTypeName(expected.dtype()),
                       DataTypeName(actual.dtype()));
  if (expected.shape() != actual.shape())
    return fmt::format("shape: expected {}, got {}", ShapeToString(expected.shape()),
                       ShapeToString(actual.shape()));
  const int64_t n = expected.numel();
  const DataType d = expected.dtype();
  if (d == DataType::kString) {
    for (int64_t i = 0; i < n; ++i)
      if (expected.data<std::string>()[i] != actual.data<std::string>()[i])
        return fmt::format("element {}: expected \"{}\", got \"{}\"", i,
                           expected.data<std::string>()[i], actual.data<std::string>()[i]);
    return "";
  }
  if (IsFloatingPoint(d)) {
    for (int64_t i = 0; i < n; ++i) {
      double e = AsDouble(expected, i), a = AsDouble(actual, i);
      if (std::isnan(e) && std::isnan(a)) continue;
      if (e == a) continue;  // includes equal infinities
      if (!(std::fabs(a - e) <= kAtol + kRtol * std::fabs(e)))
        return fmt::format("element {}: expected {:.8g}, got {:.8g}", i, e, a);
    }
    return "";
  }
  if (d == DataType::kComplex64 || d == DataType::kComplex128) {
    const int64_t m = 2 * n;
    for (int64_t i = 0; i < m; ++i) {
      double e = d == DataType::kComplex64 ? expected.data<float>()[i] : expected.data<double>()[i];
      double a = d == DataType::kComplex64 ? actual.data<float>()[i] : actual.data<double>()[i];
      if (!(std::fabs(a - e) <= kAtol + kRtol * std::fabs(e)))
        return fmt::format("component {}: expected {:.8g}, got {:.8g}", i, e, a);
    }
    return "";
  }
  if (expected.nbytes() != actual.nbytes() ||
      std::memcmp(expected.raw_data(), actual.raw_data(), expected.nbytes()) != 0) {
    size_t es = std::max<size_t>(1, DataTypeSize(d));
    for (int64_t i = 0; i < n; ++i)
      if (std::memcmp(static_cast<char*>(expected.raw_data()) + i * es,
                      static_cast<char*>(actual.raw_data()) + i * es, es) != 0)
        return fmt::format("element {} differs", i);
    return "values differ";
  }
  return "";
}

// Empty string on pass, else the reason.
std::string RunCase(const fs::path& dir, bool reference_only) {
  SessionOptions so;
  so.threads = 1;
  so.use_fast_kernels = !reference_only;
  auto s = Session::FromFile((dir / "model.onnx").string(), so);
  if (!s.ok()) {
    std::string m = s.status().ToString();
    auto p = m.find((dir / "model.onnx").string() + ": ");
    if (p != std::string::npos) m.erase(p, (dir / "model.onnx").string().size() + 2);
    return m;
  }
  const Session& session = **s;
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return "no test_data_set_N folders";
  for (const auto& set : sets) {
    std::vector<NamedValue> feed;
    // input_K.pb feeds the K-th graph input.
    const auto& decl = session.inputs();
    for (size_t k = 0;; ++k) {
      fs::path p = set / fmt::format("input_{}.pb", k);
      if (!fs::exists(p)) break;
      if (k >= decl.size())
        return fmt::format("{} has no matching graph input", p.filename().string());
      auto v = LoadValue(p, decl[k].kind, decl[k].dtype);
      if (!v.ok()) return v.status().ToString();
      feed.push_back({decl[k].name, std::move(v).value()});
    }
    // Twice: the second run of an input shape replays the first one's activation plan.
    for (int run = 1; run <= 2; ++run) {
      const std::string which = run == 1 ? "" : "second run: ";
      auto out = session.RunValues(feed);
      if (!out.ok()) return which + out.status().ToString();
      for (size_t k = 0;; ++k) {
        fs::path p = set / fmt::format("output_{}.pb", k);
        if (!fs::exists(p)) break;
        if (k >= out->size())
          return fmt::format("model produced {} outputs, expected more", out->size());
        auto e = LoadValue(p, session.outputs()[k].kind, session.outputs()[k].dtype);
        if (!e.ok()) return e.status().ToString();
        const Value& a = (*out)[k].value;
        std::string prefix =
            which + fmt::format("{} output '{}': ", set.filename().string(), (*out)[k].name);
        if (e->kind() != a.kind()) return prefix + "kind differs (tensor/sequence/empty optional)";
        if (e->is_tensor()) {
          std::string why = Compare(e->tensor(), a.tensor());
          if (!why.empty()) return prefix + why;
        } else if (e->is_sequence()) {
          if (e->sequence().size() != a.sequence().size())
            return prefix + fmt::format("sequence length: expected {}, got {}",
                                        e->sequence().size(), a.sequence().size());
          for (size_t j = 0; j < e->sequence().size(); ++j) {
            std::string why = Compare(e->sequence()[j], a.sequence()[j]);
            if (!why.empty()) return prefix + fmt::format("element {}: {}", j, why);
          }
        }
      }
    }
  }
  return "";
}

// Expected-failures file: "suite/case  reason..." per line; '#' starts a comment.
std::map<std::string, std::string> LoadExpected(const std::string& path, Status& status) {
  std::map<std::string, std::string> m;
  if (path.empty()) return m;
  std::ifstream f(path);
  if (!f) {
    status = Status(StatusCode::kNotFound, fmt::format("cannot open '{}'", path));
    return m;
  }
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find_first_of(" \t");
    std::string name = line.substr(0, sp);
    std::string reason =
        sp == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", sp));
    m[name] = reason;
  }
  return m;
}

}  // namespace

Runner SetupConformance(CLI::App& app) {
  struct Opts {
    std::vector<std::string> dirs;
    bool list_failures = false;
    bool reference_only = false;
    std::string expected;
    std::string filter;
    int min_pass = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("dirs", o->dirs,
                 "suite folders (each holding case folders) or single case folders")
      ->required();
  app.add_flag("--list-failures", o->list_failures, "print each failing case with its reason");
  app.add_flag("--reference-only", o->reference_only, "use the reference kernels alone");
  app.add_option("--expected-failures", o->expected,
                 "file of 'suite/case reason' lines: these failures do not fail the run, but an "
                 "expected failure that passes does (so the file only shrinks)");
  app.add_option("--filter", o->filter, "only cases whose name contains this text");
  app.add_option("--min-pass", o->min_pass, "fail the run when fewer cases pass (a floor)");
  return [o]() -> int {
    Status st;
    auto expected = LoadExpected(o->expected, st);
    if (!st.ok()) return Fail(st);
    std::vector<std::pair<std::string, fs::path>> cases;  // "suite/case", path
    for (const auto& d : o->dirs) {
      fs::path p(d);
      if (!fs::is_directory(p))
        return Fail(Status(StatusCode::kNotFound, fmt::format("'{}' is not a folder", d)));
      if (fs::exists(p / "model.onnx")) {
        cases.emplace_back(p.parent_path().filename().string() + "/" + p.filename().string(), p);
        continue;
      }
      std::string suite = fs::path(d).lexically_normal().filename().string();
      if (suite.empty()) suite = fs::path(d).lexically_normal().parent_path().filename().string();
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_directory() && fs::exists(e.path() / "model.onnx"))
          cases.emplace_back(suite + "/" + e.path().filename().string(), e.path());
    }
    std::sort(cases.begin(), cases.end());
    int passed = 0, failed = 0, skipped = 0, unexpected = 0, fixed = 0;
    std::vector<std::string> lines;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& [name, path] : cases) {
      if (!o->filter.empty() && name.find(o->filter) == std::string::npos) {
        ++skipped;
        continue;
      }
      std::string why = RunCase(path, o->reference_only);
      bool is_expected = expected.count(name) > 0;
      if (why.empty()) {
        ++passed;
        if (is_expected) {
          ++fixed;
          lines.push_back(
              fmt::format("FIXED   {}: passes now; remove it from the expected failures", name));
        }
      } else {
        ++failed;
        if (!is_expected) ++unexpected;
        if (o->list_failures || !is_expected)
          lines.push_back(fmt::format("{} {}: {}", is_expected ? "FAIL   " : "FAIL(!)", name, why));
      }
    }
    for (const auto& l : lines) fmt::print("{}\n", l);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print(
        "conformance: {} cases in {:.1f} s; {} failures not in the expected list, {} expected "
        "failures now pass\n",
        cases.size(), secs, unexpected, fixed);
    fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
    if (passed < o->min_pass) {
      fmt::print(stderr, "hone: {} passed is below the floor of {}\n", passed, o->min_pass);
      return 1;
    }
    if (!o->expected.empty()) return unexpected == 0 && fixed == 0 ? 0 : 1;
    return failed == 0 ? 0 : 1;
  };
}

}  // namespace hone::cli
