// The model corpus the tests under tests/models run: where it lives and what is in it.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hone/hone.h"

namespace hone::corpus {

// bench/models/cache (made by bench/models/prepare), or $HONE_MODEL_CACHE.
inline std::filesystem::path CacheDir() {
  const char* env = std::getenv("HONE_MODEL_CACHE");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(HONE_MODEL_CACHE);
}

// The file name bench/models writes for a tensor name: [A-Za-z0-9._-] kept, the rest '_'.
inline std::string Sanitize(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  return s;
}

// The model's inputs as bench/models saved them (dir/inputs/NAME.npy), in the session's order.
inline StatusOr<std::vector<NamedTensor>> Inputs(const Session& session,
                                                 const std::filesystem::path& dir) {
  std::vector<NamedTensor> feed;
  for (const auto& in : session.inputs()) {
    auto t = ReadNpy((dir / "inputs" / (Sanitize(in.name) + ".npy")).string());
    if (!t.ok()) return t.status();
    feed.push_back({in.name, *t});
  }
  return feed;
}

// Every corpus model, for INSTANTIATE_TEST_SUITE_P.
inline auto Models() {
  return ::testing::Values("ppocr_det", "ppocr_rec", "ppocr_cls", "resnet18", "mobilenet_v2",
                           "squeezenet1_1", "bert_256x4", "bert_384x6", "digits_mlp", "digits_cnn");
}

}  // namespace hone::corpus
