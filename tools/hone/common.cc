#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "cli.h"
#include "core/errors.h"

namespace hone::cli {

int ExitCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
      return 2;
    case StatusCode::kNotFound:
      return 3;
    case StatusCode::kInvalidModel:
      return 4;
    case StatusCode::kNotSupported:
      return 5;
    case StatusCode::kOutOfMemory:
      return 6;
    default:
      return 1;
  }
}

int Fail(const Status& s) {
  std::fprintf(stderr, "hone: %s\n", s.ToString().c_str());
  return ExitCode(s);
}

Status WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !f.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !f.flush())
    return NotFound("cannot write '{}'", path);
  return Status::Ok();
}

std::string SanitizeName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

Tensor RandomTensor(DataType dtype, const std::vector<int64_t>& shape, uint64_t seed) {
  Tensor t = Tensor::Empty(dtype, shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    double v = uni(rng);
    switch (dtype) {
      case DataType::kFloat32:
        t.data<float>()[i] = static_cast<float>(v);
        break;
      case DataType::kFloat64:
        t.data<double>()[i] = v;
        break;
      case DataType::kInt64:
        t.data<int64_t>()[i] = static_cast<int64_t>((v + 1) * 50);
        break;
      case DataType::kInt32:
        t.data<int32_t>()[i] = static_cast<int32_t>((v + 1) * 50);
        break;
      case DataType::kUInt8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>((v + 1) * 127);
        break;
      case DataType::kInt8:
        t.data<int8_t>()[i] = static_cast<int8_t>(v * 127);
        break;
      case DataType::kBool:
        t.data<bool>()[i] = v > 0;
        break;
      default:
        break;  // other dtypes stay zero
    }
  }
  return t;
}

StatusOr<std::vector<NamedTensor>> LoadInputs(const Session& session,
                                              const std::vector<std::string>& specs, bool random,
                                              uint64_t seed) {
  std::vector<NamedTensor> feed;
  for (const auto& spec : specs) {
    std::string name, path;
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      if (session.inputs().size() != 1)
        return Status(StatusCode::kInvalidArgument,
                      fmt::format("--input '{}': the model has {} inputs; write NAME=FILE.npy",
                                  spec, session.inputs().size()));
      name = session.inputs()[0].name;
      path = spec;
    } else {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    auto t = ReadNpy(path);
    if (!t.ok()) return t.status().WithContext("--input " + name);
    feed.push_back({name, std::move(t).value()});
  }
  if (random) {
    uint64_t k = 0;
    for (const auto& in : session.inputs()) {
      ++k;
      bool given = false;
      for (const auto& f : feed) given |= f.name == in.name;
      if (given) continue;
      std::vector<int64_t> shape;
      for (const auto& d : in.shape) shape.push_back(d.known() ? d.value : 1);
      if (in.dtype == DataType::kUndefined)
        return Status(StatusCode::kNotSupported,
                      fmt::format("input '{}' is not a tensor; --random cannot make it", in.name));
      feed.push_back({in.name, RandomTensor(in.dtype, shape, seed + k)});
    }
  }
  return feed;
}

void AddSessionFlags(CLI::App& app, SessionFlags& f) {
  app.add_option("--threads", f.threads, "intra-op threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--level", f.level,
                 "graph optimisation: none, basic (standard-op rewrites) or all (also fused and "
                 "channel-blocked kernels)")
      ->capture_default_str();
  app.add_flag("--reference", f.reference,
               "reference kernels only (no oneDNN or SIMD kernels; implies --level basic at most)");
  app.add_flag("--verbose,-v", f.verbose,
               "log the graph passes and which kernel runs each node (and why others declined)");
  app.add_flag("--no-memory-plan", f.no_memory_plan,
               "allocate every activation from the heap (no per-shape arena or shape memo)");
}

StatusOr<SessionOptions> SessionOptionsFrom(const SessionFlags& f) {
  SessionOptions so;
  so.threads = f.threads;
  so.verbose = f.verbose;
  so.use_fast_kernels = !f.reference;
  so.memory_plan = !f.no_memory_plan;
  if (f.level == "none")
    so.optimization = GraphOptimization::kNone;
  else if (f.level == "basic")
    so.optimization = GraphOptimization::kBasic;
  else if (f.level == "all")
    so.optimization = GraphOptimization::kAll;
  else
    return InvalidArgument("--level must be none, basic or all, not '{}'", f.level);
  return so;
}

void PrintProgress(int done, int total, const char* unit, const std::string& extra,
                   double seconds) {
  static const bool tty = isatty(STDERR_FILENO) != 0;
  const int width = 30, filled = total > 0 ? width * done / total : width;
  std::fprintf(stderr, "%s[%s%s] %d/%d %s%s%s, %.1f s%s", tty ? "\r" : "",
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), '.').c_str(), done, total, unit,
               extra.empty() ? "" : ", ", extra.c_str(), seconds, tty && done < total ? "" : "\n");
}

}  // namespace hone::cli
