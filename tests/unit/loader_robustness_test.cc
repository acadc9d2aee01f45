// Truncated and bit-flipped model files must give an error with a message, never a crash.
// Run under the asan preset too (scripts/test --asan).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "model_builder.h"

namespace hone {
namespace {
using namespace hone::testing;  // NOLINT
namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> Models() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("built-in Add", Bytes(AddModel()));
  for (const char* name : {"digits_mlp", "digits_cnn", "squeezenet1_1", "ppocr_cls"}) {
    fs::path p = fs::path(HONE_MODEL_CACHE) / name / "model.onnx";
    if (!fs::exists(p)) continue;
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out.emplace_back(name, ss.str());
  }
  return out;
}

// Loads bytes; when the load succeeds, runs once with zero inputs. Returns "" if both worked,
// else the error message (which must not be empty).
std::string Exercise(const std::string& bytes) {
  auto s = Session::FromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!s.ok()) return s.status().ToString();
  std::vector<NamedTensor> feed;
  for (const auto& in : (*s)->inputs()) {
    if (in.dtype == DataType::kUndefined || DataTypeSize(in.dtype) == 0) return "odd input";
    std::vector<int64_t> shape;
    for (const auto& d : in.shape)
      shape.push_back(d.known() ? std::min<int64_t>(d.value, 4096) : 1);
    if (ShapeSize(shape) > (int64_t{1} << 26)) return "huge input";
    feed.push_back({in.name, Tensor::Empty(in.dtype, shape)});
  }
  auto r = (*s)->Run(feed);
  return r.ok() ? "" : r.status().ToString();
}

TEST(LoaderRobustness, TruncatedModelsAreErrors) {
  auto models = Models();
  if (models.size() == 1)
    std::printf("[loader] corpus not found in %s: only the built-in model is exercised\n",
                HONE_MODEL_CACHE);
  for (const auto& [name, bytes] : models) {
    std::vector<size_t> cuts = {0, 1, 2, 5, 10, 17, 33};
    for (int k = 1; k < 40; ++k) cuts.push_back(bytes.size() * static_cast<size_t>(k) / 40);
    cuts.push_back(bytes.size() - 1);
    for (size_t cut : cuts) {
      if (cut >= bytes.size()) continue;
      std::string msg = Exercise(bytes.substr(0, cut));
      EXPECT_FALSE(msg.empty()) << name << " truncated to " << cut << " bytes loaded and ran";
      EXPECT_GT(msg.size(), 10u) << name << " cut " << cut << ": message too terse: " << msg;
    }
  }
}

TEST(LoaderRobustness, BitFlippedModelsNeverCrash) {
  std::mt19937_64 rng(1234);
  int errors = 0, ran = 0;
  for (const auto& [name, bytes] : Models()) {
    // Flips concentrate on the graph structure: the head and tail of the file hold the nodes and
    // value infos; weights in the middle mostly stay valid numbers.
    const int kFlips = name == "built-in Add" ? 300 : 120;
    for (int i = 0; i < kFlips; ++i) {
      std::string b = bytes;
      size_t pos;
      if (i % 3 == 0)
        pos = rng() % std::min<size_t>(b.size(), 4096);
      else if (i % 3 == 1)
        pos = b.size() - 1 - rng() % std::min<size_t>(b.size(), 4096);
      else
        pos = rng() % b.size();
      b[pos] = static_cast<char>(b[pos] ^ (1 << (rng() % 8)));
      std::string msg = Exercise(b);
      if (msg.empty()) {
        ++ran;
      } else {
        ++errors;
      }
    }
  }
  std::printf("[loader] bit flips: %d rejected with a message, %d still valid models that ran\n",
              errors, ran);
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace hone
