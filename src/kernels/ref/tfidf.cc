// Reference n-gram vectorizer.
// ONNX operator: TfIdfVectorizer (opsets 9-22): int32 / int64 / string input of shape [C] or
// [N, C]; pool_int64s or pool_strings grouped by ngram_counts, ngram_indexes, min/max_gram_length,
// max_skip_count, mode TF / IDF / TFIDF with optional weights (indexed by output position, as in
// the ONNX reference and ONNX Runtime).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class TfIdfMode { kTf, kIdf, kTfIdf };

class TfIdfVectorizer final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    min_n_ = ctx.attr_int("min_gram_length", 0);
    max_n_ = ctx.attr_int("max_gram_length", 0);
    max_skip_ = ctx.attr_int("max_skip_count", 0);
    if (min_n_ < 1 || max_n_ < min_n_)
      return ctx.Invalid("attributes min_gram_length {} / max_gram_length {}: need 1 <= min <= max",
                         min_n_, max_n_);
    if (max_skip_ < 0)
      return ctx.Invalid("attribute max_skip_count must be >= 0, got {}", max_skip_);
    const std::string mode = ctx.attr_string("mode", "");
    if (mode == "TF") {
      mode_ = TfIdfMode::kTf;
    } else if (mode == "IDF") {
      mode_ = TfIdfMode::kIdf;
    } else if (mode == "TFIDF") {
      mode_ = TfIdfMode::kTfIdf;
    } else {
      return ctx.Invalid("attribute mode: expected TF, IDF or TFIDF, got '{}'", mode);
    }
    const std::vector<int64_t> counts = ctx.attr_ints("ngram_counts");
    const std::vector<int64_t> indexes = ctx.attr_ints("ngram_indexes");
    weights_ = ctx.attr_floats("weights");
    const std::vector<int64_t> pool_i = ctx.attr_ints("pool_int64s");
    const std::vector<std::string> pool_s = ctx.attr_strings("pool_strings");
    if (!pool_i.empty() && !pool_s.empty())
      return ctx.Invalid("exactly one of the attributes pool_int64s and pool_strings is allowed");
    strings_ = !pool_s.empty();
    const int64_t pool_size = static_cast<int64_t>(strings_ ? pool_s.size() : pool_i.size());
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] < 0 || counts[i] > pool_size || (i > 0 && counts[i] < counts[i - 1]))
        return ctx.Invalid("attribute ngram_counts must be ascending within [0, {}]", pool_size);
    }
    for (int64_t ix : indexes)
      if (ix < 0) return ctx.Invalid("attribute ngram_indexes has a negative value {}", ix);
    out_size_ = indexes.empty() ? 0 : *std::max_element(indexes.begin(), indexes.end()) + 1;
    if (!weights_.empty() && static_cast<int64_t>(weights_.size()) < out_size_)
      return ctx.Invalid("attribute weights has {} values, fewer than the output size {}",
                         weights_.size(), out_size_);
    // Group the pool into n-grams: level i (n = i + 1) spans [counts[i], counts[i + 1]).
    size_t gram = 0;
    for (size_t lvl = 0; lvl < counts.size(); ++lvl) {
      const int64_t n = static_cast<int64_t>(lvl) + 1;
      const int64_t begin = counts[lvl];
      const int64_t end = lvl + 1 < counts.size() ? counts[lvl + 1] : pool_size;
      if ((end - begin) % n != 0)
        return ctx.Invalid("pool level {} has {} items, not a multiple of {}", n, end - begin, n);
      for (int64_t s = begin; s < end; s += n, ++gram) {
        if (gram >= indexes.size())
          return ctx.Invalid("attribute ngram_indexes has {} values, fewer than the pool's n-grams",
                             indexes.size());
        const int64_t out = indexes[gram];
        if (strings_) {
          str_map_[std::vector<std::string>(pool_s.begin() + s, pool_s.begin() + s + n)] = out;
        } else {
          int_map_[std::vector<int64_t>(pool_i.begin() + s, pool_i.begin() + s + n)] = out;
        }
      }
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (x->rank() != 1 && x->rank() != 2)
      return ctx.Error("input X rank: expected 1 or 2, got {}", x->rank());
    const bool is_str = x->dtype() == DataType::kString;
    if (is_str != strings_ ||
        (!is_str && x->dtype() != DataType::kInt32 && x->dtype() != DataType::kInt64))
      return ctx.Error("input X dtype {} does not match the pool ({})", DataTypeName(x->dtype()),
                       strings_ ? "strings" : "int64s");
    const int64_t rows = x->rank() == 2 ? x->dim(0) : 1;
    const int64_t cols = x->rank() == 2 ? x->dim(1) : x->dim(0);
    Tensor& y = ctx.Output(
        0, DataType::kFloat32,
        x->rank() == 2 ? std::vector<int64_t>{rows, out_size_} : std::vector<int64_t>{out_size_});
    float* dst = y.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      float* row = dst + r * out_size_;
      if (is_str) {
        std::vector<std::string> toks(x->data<std::string>() + r * cols,
                                      x->data<std::string>() + (r + 1) * cols);
        Count(toks, str_map_, row);
      } else {
        std::vector<int64_t> toks(static_cast<size_t>(cols));
        for (int64_t c = 0; c < cols; ++c)
          toks[static_cast<size_t>(c)] = x->dtype() == DataType::kInt64
                                             ? x->data<int64_t>()[r * cols + c]
                                             : x->data<int32_t>()[r * cols + c];
        Count(toks, int_map_, row);
      }
      for (int64_t o = 0; o < out_size_; ++o) {
        const float w = weights_.empty() ? 1.0f : weights_[static_cast<size_t>(o)];
        if (mode_ == TfIdfMode::kIdf) row[o] = row[o] > 0 ? w : 0.0f;
        if (mode_ == TfIdfMode::kTfIdf) row[o] *= w;
      }
    }
    return Status::Ok();
  }

 private:
  // Adds the count of every pool n-gram found in `toks` (skip-grams up to max_skip_count; a
  // unigram is counted once per position) into row[output index].
  template <typename Tok>
  void Count(const std::vector<Tok>& toks, const std::map<std::vector<Tok>, int64_t>& m,
             float* row) const {
    const int64_t c = static_cast<int64_t>(toks.size());
    std::vector<Tok> key;
    for (int64_t start = 0; start < c; ++start) {
      for (int64_t n = min_n_; n <= max_n_; ++n) {
        const int64_t skips = n == 1 ? 0 : max_skip_;
        for (int64_t skip = 0; skip <= skips; ++skip) {
          const int64_t last = start + (n - 1) * (skip + 1);
          if (last >= c) break;
          key.clear();
          for (int64_t k = 0; k < n; ++k)
            key.push_back(toks[static_cast<size_t>(start + k * (skip + 1))]);
          auto it = m.find(key);
          if (it != m.end()) row[it->second] += 1.0f;
        }
      }
    }
  }

  int64_t min_n_ = 0, max_n_ = 0, max_skip_ = 0, out_size_ = 0;
  TfIdfMode mode_ = TfIdfMode::kTf;
  bool strings_ = false;
  std::vector<float> weights_;
  std::map<std::vector<int64_t>, int64_t> int_map_;  // pool n-gram -> output index
  std::map<std::vector<std::string>, int64_t> str_map_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefTfIdfVectorizer() { return std::make_unique<TfIdfVectorizer>(); }

}  // namespace hone::ref
