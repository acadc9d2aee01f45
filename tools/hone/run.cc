// hone run MODEL: feed .npy (or random) inputs, write one NAME.npy per output.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli.h"

namespace hone::cli {
namespace {

std::string Summary(const Tensor& t) {
  std::string s = fmt::format("{} {}", DataTypeName(t.dtype()), ShapeToString(t.shape()));
  const int64_t n = t.numel();
  auto stats = [&](auto get) {
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = get(i);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
    }
    if (n > 0) s += fmt::format("  min {:.6g}  max {:.6g}  mean {:.6g}", lo, hi, sum / n);
    s += "  first [";
    for (int64_t i = 0; i < std::min<int64_t>(n, 5); ++i)
      s += fmt::format("{}{:.6g}", i ? ", " : "", get(i));
    s += n > 5 ? ", ...]" : "]";
  };
  switch (t.dtype()) {
    case DataType::kFloat32:
      stats([&](int64_t i) { return double(t.data<float>()[i]); });
      break;
    case DataType::kFloat64:
      stats([&](int64_t i) { return t.data<double>()[i]; });
      break;
    case DataType::kInt64:
      stats([&](int64_t i) { return double(t.data<int64_t>()[i]); });
      break;
    case DataType::kInt32:
      stats([&](int64_t i) { return double(t.data<int32_t>()[i]); });
      break;
    case DataType::kInt8:
      stats([&](int64_t i) { return double(t.data<int8_t>()[i]); });
      break;
    case DataType::kUInt8:
      stats([&](int64_t i) { return double(t.data<uint8_t>()[i]); });
      break;
    case DataType::kBool:
      stats([&](int64_t i) { return double(t.data<bool>()[i]); });
      break;
    default:
      break;
  }
  // Classifier-shaped outputs ([N, C] float): the top class of each of the first rows.
  if (t.dtype() == DataType::kFloat32 && t.rank() == 2 && t.dim(1) > 1) {
    s += "\n  argmax per row:";
    for (int64_t r = 0; r < std::min<int64_t>(t.dim(0), 8); ++r) {
      const float* row = t.data<float>() + r * t.dim(1);
      s += fmt::format(" {}", std::max_element(row, row + t.dim(1)) - row);
    }
    if (t.dim(0) > 8) s += " ...";
  }
  return s;
}

}  // namespace

Runner SetupRun(CLI::App& app) {
  struct Opts {
    std::string model;
    std::vector<std::string> inputs;
    bool random = false;
    std::string output_dir = "outputs";
    uint64_t seed = 0;
    SessionFlags session;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("model", o->model, "ONNX model file")->required();
  app.add_option("--input,-i", o->inputs,
                 "NAME=FILE.npy for one input (FILE.npy alone when the model has one input); "
                 "repeat for several");
  app.add_flag("--random", o->random,
               "fill inputs not given with --input with random values (symbolic dims = 1)");
  app.add_option("--output-dir,-o", o->output_dir, "folder for the NAME.npy outputs")
      ->capture_default_str();
  app.add_option("--seed", o->seed, "seed for --random")->capture_default_str();
  AddSessionFlags(app, o->session);
  return [o]() -> int {
    auto so = SessionOptionsFrom(o->session);
    if (!so.ok()) return Fail(so.status());
    auto s = Session::FromFile(o->model, *so);
    if (!s.ok()) return Fail(s.status());
    auto feed = LoadInputs(**s, o->inputs, o->random, o->seed);
    if (!feed.ok()) return Fail(feed.status());
    std::vector<NamedValue> values;
    for (auto& nt : *feed) values.push_back({nt.name, Value(nt.tensor)});
    auto out = (*s)->RunValues(values);
    if (!out.ok()) return Fail(out.status());
    std::error_code ec;
    std::filesystem::create_directories(o->output_dir, ec);
    if (ec)
      return Fail(
          Status(StatusCode::kInvalidArgument,
                 fmt::format("cannot create output folder '{}': {}", o->output_dir, ec.message())));
    auto write = [&](const std::string& label, const std::string& file, const Tensor& t) {
      std::string path = (std::filesystem::path(o->output_dir) / file).string();
      Status w = WriteNpy(path, t);
      if (!w.ok()) {
        fmt::print(stderr, "hone: output '{}' not written: {}\n", label, w.message());
      } else {
        fmt::print("{} -> {}\n  {}\n", label, path, Summary(t));
      }
    };
    for (const auto& nv : *out) {
      const std::string base = SanitizeName(nv.name);
      if (nv.value.is_tensor()) {
        write(nv.name, base + ".npy", nv.value.tensor());
      } else if (nv.value.is_sequence()) {
        // A sequence output: one NAME_K.npy per element.
        const auto& items = nv.value.sequence();
        fmt::print("{}: sequence of {} tensors\n", nv.name, items.size());
        for (size_t k = 0; k < items.size(); ++k)
          write(fmt::format("{}[{}]", nv.name, k), fmt::format("{}_{}.npy", base, k), items[k]);
      } else {
        fmt::print("{}: empty optional (no file written)\n", nv.name);
      }
    }
    return 0;
  };
}

}  // namespace hone::cli
