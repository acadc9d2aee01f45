// Reference string kernels.
// ONNX operators: StringNormalizer (opsets 10-22: case_change_action,
// is_case_sensitive, stopwords; `locale` is accepted but case mapping is
// locale-independent simple Unicode case mapping over UTF-8, implemented here
// for the Latin, Greek, Cyrillic, Armenian and fullwidth blocks), StringSplit
// (20-22: delimiter, maxsplit; Python str.split semantics), StringConcat
// (20-22: multidirectional broadcasting).
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// ---- UTF-8 and simple case mapping
// ------------------------------------------------------------

// A block of case pairs: upper code points [first, last]; lower = upper +
// delta. With step 2, only every other code point (first, first + 2, ...) is an
// upper-case letter.
struct CaseRange {
  uint32_t first, last;
  int32_t delta;
  uint32_t step;
};
constexpr CaseRange kCaseRanges[] = {
    {0x0041, 0x005A, 32, 1},    // Basic Latin
    {0x00C0, 0x00D6, 32, 1},    // Latin-1
    {0x00D8, 0x00DE, 32, 1},    //
    {0x0100, 0x012E, 1, 2},     // Latin Extended-A
    {0x0132, 0x0136, 1, 2},     //
    {0x0139, 0x0147, 1, 2},     //
    {0x014A, 0x0176, 1, 2},     //
    {0x0179, 0x017D, 1, 2},     //
    {0x0182, 0x0184, 1, 2},     // Latin Extended-B (partial)
    {0x01A0, 0x01A4, 1, 2},     //
    {0x01CD, 0x01DB, 1, 2},     //
    {0x01DE, 0x01EE, 1, 2},     //
    {0x01F8, 0x021E, 1, 2},     //
    {0x0222, 0x0232, 1, 2},     //
    {0x0386, 0x0386, 38, 1},    // Greek
    {0x0388, 0x038A, 37, 1},    //
    {0x038C, 0x038C, 64, 1},    //
    {0x038E, 0x038F, 63, 1},    //
    {0x0391, 0x03A1, 32, 1},    //
    {0x03A3, 0x03AB, 32, 1},    //
    {0x03D8, 0x03EE, 1, 2},     //
    {0x0400, 0x040F, 80, 1},    // Cyrillic
    {0x0410, 0x042F, 32, 1},    //
    {0x0460, 0x0480, 1, 2},     //
    {0x048A, 0x04BE, 1, 2},     //
    {0x04C1, 0x04CD, 1, 2},     //
    {0x04D0, 0x052E, 1, 2},     //
    {0x0531, 0x0556, 48, 1},    // Armenian
    {0x10A0, 0x10C5, 7264, 1},  // Georgian
    {0x1E00, 0x1E94, 1, 2},     // Latin Extended Additional
    {0x1EA0, 0x1EFE, 1, 2},     //
    {0x1F08, 0x1F0F, -8, 1},    // Greek Extended (partial)
    {0x1F18, 0x1F1D, -8, 1},    //
    {0x1F28, 0x1F2F, -8, 1},    //
    {0x1F38, 0x1F3F, -8, 1},    //
    {0x1F48, 0x1F4D, -8, 1},    //
    {0x1F68, 0x1F6F, -8, 1},    //
    {0xFF21, 0xFF3A, 32, 1},    // Fullwidth Latin
};

uint32_t ToLower(uint32_t cp) {
  for (const CaseRange& r : kCaseRanges) {
    if (cp >= r.first && cp <= r.last && (cp - r.first) % r.step == 0)
      return static_cast<uint32_t>(static_cast<int32_t>(cp) + r.delta);
  }
  if (cp == 0x0178) return 0x00FF;  // Ÿ
  if (cp == 0x0130) return 0x0069;  // İ
  return cp;
}

uint32_t ToUpper(uint32_t cp) {
  for (const CaseRange& r : kCaseRanges) {
    const int64_t up = static_cast<int64_t>(cp) - r.delta;
    if (up >= r.first && up <= r.last && (static_cast<uint32_t>(up) - r.first) % r.step == 0)
      return static_cast<uint32_t>(up);
  }
  if (cp == 0x00FF) return 0x0178;  // ÿ
  if (cp == 0x0131) return 0x0049;  // ı
  if (cp == 0x03C2) return 0x03A3;  // final sigma
  if (cp == 0x00B5) return 0x039C;  // micro sign
  if (cp == 0x017F) return 0x0053;  // long s
  return cp;
}

enum class CaseAction { kNone, kLower, kUpper };

// Case-maps a UTF-8 string code point by code point; invalid bytes are copied
// unchanged.
std::string ChangeCase(std::string_view s, CaseAction a) {
  if (a == CaseAction::kNone) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    bool ok = true;
    const uint32_t cp = DecodeUtf8(s, i, ok);
    if (!ok) {
      out.push_back(s[start]);
      continue;
    }
    EncodeUtf8(a == CaseAction::kLower ? ToLower(cp) : ToUpper(cp), out);
  }
  return out;
}

// ---- StringNormalizer
// ---------------------------------------------------------------------------

class StringNormalizer final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string act = ctx.attr_string("case_change_action", "NONE");
    if (act == "NONE") {
      action_ = CaseAction::kNone;
    } else if (act == "LOWER") {
      action_ = CaseAction::kLower;
    } else if (act == "UPPER") {
      action_ = CaseAction::kUpper;
    } else {
      return ctx.Invalid(
          "attribute case_change_action: expected NONE, LOWER "
          "or UPPER, got '{}'",
          act);
    }
    case_sensitive_ = ctx.attr_int("is_case_sensitive", 0) != 0;
    for (const std::string& w : ctx.attr_strings("stopwords"))
      stopwords_.insert(case_sensitive_ ? w : ChangeCase(w, CaseAction::kLower));
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (x->dtype() != DataType::kString)
      return ctx.Error("input X must be string, got {}", DataTypeName(x->dtype()));
    const bool two_d = x->rank() == 2;
    if (!(x->rank() == 1 || (two_d && x->dim(0) == 1)))
      return ctx.Error("input X shape: expected [C] or [1, C], got {}", ShapeToString(x->shape()));
    const std::string* src = x->data<std::string>();
    std::vector<std::string> kept;
    for (int64_t i = 0; i < x->numel(); ++i) {
      const std::string key = case_sensitive_ ? src[i] : ChangeCase(src[i], CaseAction::kLower);
      if (stopwords_.count(key) != 0) continue;
      kept.push_back(ChangeCase(src[i], action_));
    }
    // All filtered out: one empty string.
    if (kept.empty()) kept.emplace_back();
    const int64_t n = static_cast<int64_t>(kept.size());
    Tensor& y = ctx.Output(0, DataType::kString,
                           two_d ? std::vector<int64_t>{1, n} : std::vector<int64_t>{n});
    std::string* dst = y.data<std::string>();
    for (size_t i = 0; i < kept.size(); ++i) dst[i] = std::move(kept[i]);
    return Status::Ok();
  }

 private:
  CaseAction action_ = CaseAction::kNone;
  bool case_sensitive_ = false;
  std::set<std::string> stopwords_;  // lower-cased when case-insensitive
};

// ---- StringSplit
// --------------------------------------------------------------------------------

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
         (c >= 0x1c && c <= 0x1f);
}

// Python's s.split(sep, maxsplit); sep empty = split on whitespace runs;
// maxsplit < 0 = no limit.
std::vector<std::string> Split(const std::string& s, const std::string& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep.empty()) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && IsSpace(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        // the rest, trailing whitespace stripped
        size_t end = s.size();
        while (end > i && IsSpace(s[end - 1])) --end;
        parts.push_back(s.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !IsSpace(s[j])) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
    const size_t p = s.find(sep, start);
    if (p == std::string::npos) break;
    parts.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  parts.push_back(s.substr(start));
  return parts;
}

class StringSplit final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    delimiter_ = ctx.attr_string("delimiter", "");
    maxsplit_ = ctx.attr_int("maxsplit", -1);
    if (ctx.has_attr("maxsplit") && maxsplit_ < 0)
      return ctx.Invalid("attribute maxsplit must be >= 0, got {}", maxsplit_);
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input X");
    if (x->dtype() != DataType::kString)
      return ctx.Error("input X must be string, got {}", DataTypeName(x->dtype()));
    const int64_t n = x->numel();
    std::vector<std::vector<std::string>> parts(static_cast<size_t>(n));
    int64_t width = 0;
    for (int64_t i = 0; i < n; ++i) {
      parts[static_cast<size_t>(i)] = Split(x->data<std::string>()[i], delimiter_, maxsplit_);
      width = std::max<int64_t>(width, static_cast<int64_t>(parts[static_cast<size_t>(i)].size()));
    }
    Shape shape = x->shape();
    shape.push_back(width);
    Tensor& subs = ctx.Output(0, DataType::kString, shape);
    std::string* dst = subs.data<std::string>();
    for (int64_t i = 0; i < n; ++i) {
      auto& p = parts[static_cast<size_t>(i)];
      for (size_t k = 0; k < p.size(); ++k)
        dst[i * width + static_cast<int64_t>(k)] = std::move(p[k]);
    }
    if (ctx.num_outputs() > 1) {
      Tensor& len = ctx.Output(1, DataType::kInt64, x->shape());
      for (int64_t i = 0; i < n; ++i)
        len.data<int64_t>()[i] = static_cast<int64_t>(parts[static_cast<size_t>(i)].size());
    }
    return Status::Ok();
  }

 private:
  std::string delimiter_;
  int64_t maxsplit_ = -1;
};

// ---- StringConcat
// -------------------------------------------------------------------------------

class StringConcat final : public Kernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (a == nullptr || b == nullptr) return ctx.Error("expected inputs X and Y");
    if (a->dtype() != DataType::kString || b->dtype() != DataType::kString)
      return ctx.Error("inputs must be string, got {} and {}", DataTypeName(a->dtype()),
                       DataTypeName(b->dtype()));
    HONE_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(ctx.node(), a->shape(), b->shape()));
    Tensor& y = ctx.Output(0, DataType::kString, shape);
    const std::string* ap = a->data<std::string>();
    const std::string* bp = b->data<std::string>();
    std::string* dst = y.data<std::string>();
    ForEachBroadcast<2>(
        shape, {&a->shape(), &b->shape()},
        [&](int64_t o, std::array<int64_t, 2> offs) { dst[o] = ap[offs[0]] + bp[offs[1]]; });
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateRefStringNormalizer() { return std::make_unique<StringNormalizer>(); }
std::unique_ptr<Kernel> CreateRefStringSplit() { return std::make_unique<StringSplit>(); }
std::unique_ptr<Kernel> CreateRefStringConcat() { return std::make_unique<StringConcat>(); }

}  // namespace hone::ref
