// src/ml/tsne.h: t-SNE separates what is separate, trustworthiness behaves, bad input is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/thread_pool.h"
#include "ml/tsne.h"

namespace hone::ml {
namespace {

// `per` points around each of `centres` far-apart centres in `d` dimensions.
Tensor Clusters(int64_t centres, int64_t per, int64_t d, std::vector<int64_t>* labels) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  Tensor x = Tensor::Uninitialized(DataType::kFloat32, {centres * per, d});
  for (int64_t c = 0; c < centres; ++c)
    for (int64_t i = 0; i < per; ++i) {
      const int64_t r = c * per + i;
      for (int64_t j = 0; j < d; ++j) x.data<float>()[r * d + j] = g(rng) + (j == c ? 20.0f : 0.0f);
      if (labels) labels->push_back(c);
    }
  return x;
}

TEST(Tsne, SeparatesClustersAndKeepsNeighbourhoods) {
  ThreadPool pool(2);
  std::vector<int64_t> labels;
  Tensor x = Clusters(3, 60, 8, &labels);
  TsneOptions o;
  o.perplexity = 15;
  o.iterations = 500;
  std::vector<double> kls;
  o.progress = [&](int it, double kl) {
    if (it > 250) kls.push_back(kl);
  };
  auto r = Tsne(x, o, pool);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->embedding.shape(), (std::vector<int64_t>{180, 2}));
  EXPECT_TRUE(std::isfinite(r->kl_divergence));
  ASSERT_GE(kls.size(), 2u);
  EXPECT_LT(kls.back(), kls.front()) << "KL falls after the exaggerated phase";
  // Each point's nearest embedded neighbour has its label.
  const float* e = r->embedding.data<float>();
  int wrong = 0;
  for (int64_t i = 0; i < 180; ++i) {
    double best = 1e300;
    int64_t nn = -1;
    for (int64_t j = 0; j < 180; ++j) {
      if (j == i) continue;
      const double d = std::pow(e[2 * i] - e[2 * j], 2) + std::pow(e[2 * i + 1] - e[2 * j + 1], 2);
      if (d < best) best = d, nn = j;
    }
    wrong += labels[static_cast<size_t>(nn)] != labels[static_cast<size_t>(i)];
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(Trustworthiness(x, r->embedding, 5, pool), 0.9);
}

TEST(Tsne, TrustworthinessIsOneForTheDataItselfAndLowerForNoise) {
  ThreadPool pool(1);
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  Tensor x = Tensor::Uninitialized(DataType::kFloat32, {100, 2});
  Tensor noise = Tensor::Uninitialized(DataType::kFloat32, {100, 2});
  for (int i = 0; i < 200; ++i) {
    x.data<float>()[i] = g(rng);
    noise.data<float>()[i] = g(rng);
  }
  EXPECT_DOUBLE_EQ(Trustworthiness(x, x, 5, pool), 1.0);
  EXPECT_LT(Trustworthiness(x, noise, 5, pool), 0.8);
}

TEST(Tsne, BadInputIsRefused) {
  ThreadPool pool(1);
  TsneOptions o;
  EXPECT_FALSE(Tsne(Clusters(1, 3, 2, nullptr), o, pool).ok()) << "3 rows";
  o.perplexity = 50;
  EXPECT_FALSE(Tsne(Clusters(2, 10, 3, nullptr), o, pool).ok()) << "perplexity >= rows";
  o.perplexity = 5;
  Tensor x = Clusters(2, 10, 3, nullptr);
  x.data<float>()[7] = std::nanf("");
  auto r = Tsne(x, o, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("row 2"), std::string::npos) << r.status().message();
  o.theta = 2;
  EXPECT_FALSE(Tsne(Clusters(2, 10, 3, nullptr), o, pool).ok());
}

TEST(Tsne, PlotHasEveryPointAndALegend) {
  Tensor e = Tensor::Uninitialized(DataType::kFloat32, {3, 2});
  const float v[6] = {0, 0, 1, 1, 2, 0.5f};
  std::copy(v, v + 6, e.data<float>());
  const std::string svg = ScatterSvg(e, {4, 7, 4}, "a <title>");
  size_t circles = 0;
  for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1))
    ++circles;
  EXPECT_EQ(circles, 3u + 2u) << "three points and two legend entries";
  EXPECT_NE(svg.find("a &lt;title&gt;"), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>"), svg.size() - 7);
}

}  // namespace
}  // namespace hone::ml
