// Reference regular-expression kernel.
// ONNX operator: RegexFullMatch (opsets 20-22): Y[i] = X[i] fully matches `pattern` (RE2 syntax).
// RE2 comes from Debian's libre2-dev.

#include <re2/re2.h>

#include <memory>
#include <string>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

class RegexFullMatch final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (!ctx.has_attr("pattern")) return ctx.Invalid("attribute pattern is missing");
    RE2::Options opts;
    opts.set_log_errors(false);
    re_ = std::make_unique<RE2>(ctx.attr_string("pattern", ""), opts);
    if (!re_->ok())
      return ctx.Invalid("attribute pattern '{}' is not a valid RE2 expression: {}", re_->pattern(),
                         re_->error());
    return Status::Ok();
  }

  // RE2 matching is const and thread-safe, so concurrent runs share re_.
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (x->dtype() != DataType::kString)
      return ctx.Error("input X must be string, got {}", DataTypeName(x->dtype()));
    Tensor& y = ctx.Output(0, DataType::kBool, x->shape());
    const std::string* src = x->data<std::string>();
    bool* dst = y.data<bool>();
    for (int64_t i = 0; i < x->numel(); ++i) dst[i] = RE2::FullMatch(src[i], *re_);
    return Status::Ok();
  }

 private:
  std::unique_ptr<RE2> re_;  // compiled once in Init
};

}  // namespace

std::unique_ptr<Kernel> CreateRefRegexFullMatch() { return std::make_unique<RegexFullMatch>(); }

}  // namespace hone::ref
