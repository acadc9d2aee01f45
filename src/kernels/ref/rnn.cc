// Reference recurrent kernels.
// ONNX operators: RNN (opsets 7-22), GRU (7-22), LSTM (7-22): directions
// forward / reverse / bidirectional, the activations / activation_alpha /
// activation_beta attributes, clip, GRU linear_before_reset, LSTM input_forget
// and peepholes (P), optional B, sequence_lens, initial_h / initial_c, and
// layout=1 (batch-first X, initial states and outputs; opset 14+). Each
// (direction, batch item) sequence is computed on its own: slow and
// spec-literal.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

enum class Cell { kRnn, kGru, kLstm };

constexpr int GateCount(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 3 : 4; }
constexpr int ActCount(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 2 : 3; }

enum class ActKind {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus,
};

struct Activation {
  ActKind kind = ActKind::kTanh;
  double alpha = 0, beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case ActKind::kRelu:
        return x > 0 ? x : 0;
      case ActKind::kTanh:
        return std::tanh(x);
      case ActKind::kSigmoid:
        return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
      case ActKind::kAffine:
        return alpha * x + beta;
      case ActKind::kLeakyRelu:
        return x >= 0 ? x : alpha * x;
      case ActKind::kThresholdedRelu:
        return x > alpha ? x : 0;
      case ActKind::kScaledTanh:
        return alpha * std::tanh(beta * x);
      case ActKind::kHardSigmoid:
        return std::min(1.0, std::max(0.0, alpha * x + beta));
      case ActKind::kElu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1);
      case ActKind::kSoftsign:
        return x / (1 + std::fabs(x));
      case ActKind::kSoftplus:
        return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    }
    return x;
  }
};

// Name -> kind, whether it takes alpha / beta, and their defaults (those of
// ONNX Runtime).
struct ActSpec {
  const char* name;
  ActKind kind;
  bool has_alpha, has_beta;
  double alpha, beta;
};
constexpr ActSpec kActSpecs[] = {
    {"relu", ActKind::kRelu, false, false, 0, 0},
    {"tanh", ActKind::kTanh, false, false, 0, 0},
    {"sigmoid", ActKind::kSigmoid, false, false, 0, 0},
    {"affine", ActKind::kAffine, true, true, 1.0, 0.0},
    {"leakyrelu", ActKind::kLeakyRelu, true, false, 0.01, 0},
    {"thresholdedrelu", ActKind::kThresholdedRelu, true, false, 1.0, 0},
    {"scaledtanh", ActKind::kScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", ActKind::kHardSigmoid, true, true, 0.2, 0.5},
    {"elu", ActKind::kElu, true, false, 1.0, 0},
    {"softsign", ActKind::kSoftsign, false, false, 0, 0},
    {"softplus", ActKind::kSoftplus, false, false, 0, 0},
};

// Reads input i (any float dtype) as doubles; empty when absent.
std::vector<double> ReadDoubles(const Tensor* t) {
  std::vector<double> v;
  if (t == nullptr) return v;
  v.resize(static_cast<size_t>(t->numel()));
  (void)VisitFloat(Node{}, t->dtype(), [&]<typename T>() {
    const T* src = t->data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<Acc<T>>(src[i]));
    return Status::Ok();
  });
  return v;
}

template <Cell kCell>
class Recurrent final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string dir = ctx.attr_string("direction", "forward");
    if (dir == "forward") {
      num_dir_ = 1;
    } else if (dir == "reverse") {
      num_dir_ = 1;
      reverse_only_ = true;
    } else if (dir == "bidirectional") {
      num_dir_ = 2;
    } else {
      return ctx.Invalid(
          "attribute direction: expected forward, reverse or "
          "bidirectional, got '{}'",
          dir);
    }
    hidden_ = ctx.attr_int("hidden_size", 0);
    if (ctx.has_attr("hidden_size") && hidden_ <= 0)
      return ctx.Invalid("attribute hidden_size must be positive, got {}", hidden_);
    layout_ = ctx.attr_int("layout", 0);
    if (layout_ != 0 && layout_ != 1)
      return ctx.Invalid("attribute layout: expected 0 or 1, got {}", layout_);
    if (ctx.has_attr("clip")) {
      clip_ = ctx.attr_float("clip", 0.0f);
      if (!(clip_ > 0)) return ctx.Invalid("attribute clip must be positive, got {}", clip_);
      has_clip_ = true;
    }
    if constexpr (kCell == Cell::kGru)
      linear_before_reset_ = ctx.attr_int("linear_before_reset", 0);
    if constexpr (kCell == Cell::kLstm) input_forget_ = ctx.attr_int("input_forget", 0) != 0;

    std::vector<std::string> names = ctx.attr_strings("activations");
    const size_t per_dir = static_cast<size_t>(ActCount(kCell));
    if (names.empty()) {
      if constexpr (kCell == Cell::kRnn) names = {"Tanh"};
      if constexpr (kCell == Cell::kGru) names = {"Sigmoid", "Tanh"};
      if constexpr (kCell == Cell::kLstm) names = {"Sigmoid", "Tanh", "Tanh"};
    }
    if (names.size() == per_dir && num_dir_ == 2) {
      const std::vector<std::string> once = names;
      names.insert(names.end(), once.begin(), once.end());
    }
    if (names.size() != per_dir * static_cast<size_t>(num_dir_))
      return ctx.Invalid("attribute activations: expected {} names ({} per direction), got {}",
                         per_dir * static_cast<size_t>(num_dir_), per_dir, names.size());
    const std::vector<float> alphas = ctx.attr_floats("activation_alpha");
    const std::vector<float> betas = ctx.attr_floats("activation_beta");
    size_t ai = 0, bi = 0;
    for (const std::string& n : names) {
      std::string lower;
      for (char ch : n)
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      const ActSpec* spec = nullptr;
      for (const ActSpec& s : kActSpecs)
        if (lower == s.name) spec = &s;
      if (spec == nullptr) return ctx.Invalid("attribute activations: unknown function '{}'", n);
      Activation a;
      a.kind = spec->kind;
      a.alpha = spec->alpha;
      a.beta = spec->beta;
      if (spec->has_alpha && ai < alphas.size()) a.alpha = alphas[ai++];
      if (spec->has_beta && bi < betas.size()) a.beta = betas[bi++];
      acts_.push_back(a);
    }
    if (ctx.num_inputs() < 3 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2))
      return ctx.Invalid("expected inputs X, W and R");
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    constexpr int64_t kGates = GateCount(kCell);
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* r = ctx.input(2);
    const Tensor* b = ctx.input(3);
    const Tensor* seq_lens = ctx.input(4);
    const Tensor* init_h = ctx.input(5);
    const Tensor* init_c = kCell == Cell::kLstm ? ctx.input(6) : nullptr;
    const Tensor* p = kCell == Cell::kLstm ? ctx.input(7) : nullptr;
    if (x == nullptr || w == nullptr || r == nullptr)
      return ctx.Error("expected inputs X, W and R");
    const DataType dt = x->dtype();
    HONE_RETURN_IF_ERROR(VisitFloat(ctx.node(), dt, []<typename T>() { return Status::Ok(); }));
    for (const Tensor* t : {w, r, b, init_h, init_c, p}) {
      if (t != nullptr && t->dtype() != dt)
        return ctx.Error("inputs must share X's dtype {}, got {}", DataTypeName(dt),
                         DataTypeName(t->dtype()));
    }
    if (x->rank() != 3) return ctx.Error("input X rank: expected 3, got {}", x->rank());
    const int64_t seq = layout_ == 0 ? x->dim(0) : x->dim(1);
    const int64_t batch = layout_ == 0 ? x->dim(1) : x->dim(0);
    const int64_t in = x->dim(2);
    if (r->rank() != 3) return ctx.Error("input R rank: expected 3, got {}", r->rank());
    const int64_t hid = r->dim(2);
    if (hidden_ > 0 && hid != hidden_)
      return ctx.Error("input R shape {}: last dimension must be hidden_size {}",
                       ShapeToString(r->shape()), hidden_);
    const int64_t nd = num_dir_;
    auto check = [&](const Tensor* t, std::vector<int64_t> want, const char* what) -> Status {
      if (t != nullptr && t->shape() != want)
        return ctx.Error("input {} shape: expected {}, got {}", what, ShapeToString(want),
                         ShapeToString(t->shape()));
      return Status::Ok();
    };
    HONE_RETURN_IF_ERROR(check(w, {nd, kGates * hid, in}, "W"));
    HONE_RETURN_IF_ERROR(check(r, {nd, kGates * hid, hid}, "R"));
    HONE_RETURN_IF_ERROR(check(b, {nd, 2 * kGates * hid}, "B"));
    const Shape state_shape = layout_ == 0 ? Shape{nd, batch, hid} : Shape{batch, nd, hid};
    HONE_RETURN_IF_ERROR(check(init_h, state_shape, "initial_h"));
    HONE_RETURN_IF_ERROR(check(init_c, state_shape, "initial_c"));
    HONE_RETURN_IF_ERROR(check(p, {nd, 3 * hid}, "P"));
    Shape lens(static_cast<size_t>(batch), seq);
    if (seq_lens != nullptr) {
      HONE_ASSIGN_OR_RETURN(lens, ToInt64Vector(ctx.node(), *seq_lens, "sequence_lens"));
      if (static_cast<int64_t>(lens.size()) != batch)
        return ctx.Error("input sequence_lens: expected {} elements, got {}", batch, lens.size());
      for (int64_t l : lens)
        if (l < 0 || l > seq)
          return ctx.Error("input sequence_lens: value {} is outside [0, {}]", l, seq);
    }

    const std::vector<double> xv = ReadDoubles(x), wv = ReadDoubles(w), rv = ReadDoubles(r),
                              bv = ReadDoubles(b), hv0 = ReadDoubles(init_h),
                              cv0 = ReadDoubles(init_c), pv = ReadDoubles(p);
    // Results in double, in layout 0 order: Y [seq, nd, batch, hid], Y_h / Y_c
    // [nd, batch, hid].
    std::vector<double> y(static_cast<size_t>(seq * nd * batch * hid), 0.0);
    std::vector<double> yh(static_cast<size_t>(nd * batch * hid), 0.0);
    std::vector<double> yc(yh.size(), 0.0);
    auto state_index = [&](int64_t d, int64_t bb) {
      return static_cast<size_t>(layout_ == 0 ? (d * batch + bb) * hid : (bb * nd + d) * hid);
    };
    auto x_index = [&](int64_t t, int64_t bb) {
      return static_cast<size_t>(layout_ == 0 ? (t * batch + bb) * in : (bb * seq + t) * in);
    };
    auto clip = [&](double v) {
      return has_clip_ ? std::min<double>(clip_, std::max<double>(-clip_, v)) : v;
    };

    const size_t G = static_cast<size_t>(kGates), H = static_cast<size_t>(hid);
    std::vector<double> h(H), c(H), xw(G * H), hr(G * H), tmp(H);
    for (int64_t d = 0; d < nd; ++d) {
      const bool rev = reverse_only_ || d == 1;
      const Activation* act = &acts_[static_cast<size_t>(d * ActCount(kCell))];
      const double* W = wv.data() + d * kGates * hid * in;
      const double* R = rv.data() + d * kGates * hid * hid;
      const double* Wb = bv.empty() ? nullptr : bv.data() + d * 2 * kGates * hid;
      const double* Rb = Wb == nullptr ? nullptr : Wb + kGates * hid;
      const double* P = pv.empty() ? nullptr : pv.data() + d * 3 * hid;
      for (int64_t bb = 0; bb < batch; ++bb) {
        const size_t si = state_index(d, bb);
        for (size_t j = 0; j < H; ++j) {
          h[j] = hv0.empty() ? 0.0 : hv0[si + j];
          c[j] = cv0.empty() ? 0.0 : cv0[si + j];
        }
        const int64_t len = lens[static_cast<size_t>(bb)];
        for (int64_t s = 0; s < len; ++s) {
          const int64_t t = rev ? len - 1 - s : s;
          const double* xt = xv.data() + x_index(t, bb);
          // xw = Xt*W^T + Wb, hr = Ht-1*R^T + Rb, per gate row.
          for (size_t row = 0; row < G * H; ++row) {
            double a = Wb == nullptr ? 0.0 : Wb[row];
            for (int64_t k = 0; k < in; ++k) a += xt[k] * W[static_cast<int64_t>(row) * in + k];
            xw[row] = a;
            double e = Rb == nullptr ? 0.0 : Rb[row];
            for (size_t k = 0; k < H; ++k) e += h[k] * R[row * H + k];
            hr[row] = e;
          }
          if constexpr (kCell == Cell::kRnn) {
            for (size_t j = 0; j < H; ++j) h[j] = act[0](clip(xw[j] + hr[j]));
          } else if constexpr (kCell == Cell::kGru) {
            // gate order z, r, h
            std::vector<double>& hn = tmp;
            for (size_t j = 0; j < H; ++j) {
              const double z = act[0](clip(xw[j] + hr[j]));
              const double rg = act[0](clip(xw[H + j] + hr[H + j]));
              double pre;
              if (linear_before_reset_ != 0) {
                pre = xw[2 * H + j] + rg * hr[2 * H + j];
              } else {
                // (rt (.) Ht-1) * Rh^T + Rbh
                double e = Rb == nullptr ? 0.0 : Rb[2 * H + j];
                for (size_t k = 0; k < H; ++k) {
                  const double rk = act[0](clip(xw[H + k] + hr[H + k]));
                  e += rk * h[k] * R[(2 * H + j) * H + k];
                }
                pre = xw[2 * H + j] + e;
              }
              const double hh = act[1](clip(pre));
              hn[j] = (1 - z) * hh + z * h[j];
            }
            h = hn;
          } else {
            // gate order i, o, f, c; peepholes P order i, o, f
            for (size_t j = 0; j < H; ++j) {
              const double pi = P == nullptr ? 0.0 : P[j];
              const double po = P == nullptr ? 0.0 : P[H + j];
              const double pf = P == nullptr ? 0.0 : P[2 * H + j];
              const double ig = act[0](clip(xw[j] + hr[j] + pi * c[j]));
              double fg = act[0](clip(xw[2 * H + j] + hr[2 * H + j] + pf * c[j]));
              if (input_forget_) fg = 1 - ig;
              const double cg = act[1](clip(xw[3 * H + j] + hr[3 * H + j]));
              const double cn = fg * c[j] + ig * cg;
              const double og = act[0](clip(xw[H + j] + hr[H + j] + po * cn));
              c[j] = cn;
              tmp[j] = og * act[2](cn);
            }
            h = tmp;
          }
          double* yt = y.data() + ((t * nd + d) * batch + bb) * hid;
          for (size_t j = 0; j < H; ++j) yt[j] = h[j];
        }
        double* yht = yh.data() + (d * batch + bb) * hid;
        double* yct = yc.data() + (d * batch + bb) * hid;
        for (size_t j = 0; j < H; ++j) {
          yht[j] = h[j];
          yct[j] = c[j];
        }
      }
    }

    // Outputs, permuted to layout 1 when asked.
    auto emit = [&](int i, const std::vector<double>& src, bool is_y) -> Status {
      if (i >= ctx.num_outputs() || ctx.node().outputs[static_cast<size_t>(i)].empty())
        return Status::Ok();
      Shape shape;
      if (is_y)
        shape = layout_ == 0 ? Shape{seq, nd, batch, hid} : Shape{batch, seq, nd, hid};
      else
        shape = state_shape;
      Tensor& out = ctx.Output(i, dt, shape);
      return VisitFloat(ctx.node(), dt, [&]<typename T>() {
        T* dst = out.data<T>();
        size_t o = 0;
        if (is_y && layout_ == 1) {
          for (int64_t bb = 0; bb < batch; ++bb)
            for (int64_t t = 0; t < seq; ++t)
              for (int64_t d = 0; d < nd; ++d)
                for (int64_t j = 0; j < hid; ++j)
                  dst[o++] = static_cast<T>(static_cast<Acc<T>>(
                      src[static_cast<size_t>(((t * nd + d) * batch + bb) * hid + j)]));
        } else if (!is_y && layout_ == 1) {
          for (int64_t bb = 0; bb < batch; ++bb)
            for (int64_t d = 0; d < nd; ++d)
              for (int64_t j = 0; j < hid; ++j)
                dst[o++] = static_cast<T>(
                    static_cast<Acc<T>>(src[static_cast<size_t>((d * batch + bb) * hid + j)]));
        } else {
          for (double v : src) dst[o++] = static_cast<T>(static_cast<Acc<T>>(v));
        }
        return Status::Ok();
      });
    };
    HONE_RETURN_IF_ERROR(emit(0, y, true));
    HONE_RETURN_IF_ERROR(emit(1, yh, false));
    if constexpr (kCell == Cell::kLstm) HONE_RETURN_IF_ERROR(emit(2, yc, false));
    return Status::Ok();
  }

 private:
  int64_t num_dir_ = 1;
  bool reverse_only_ = false;
  int64_t hidden_ = 0;
  int64_t layout_ = 0;
  bool has_clip_ = false;
  float clip_ = 0;
  int64_t linear_before_reset_ = 0;
  bool input_forget_ = false;
  std::vector<Activation> acts_;  // ActCount per direction, forward first
};

}  // namespace

std::unique_ptr<Kernel> CreateRefRNN() { return std::make_unique<Recurrent<Cell::kRnn>>(); }
std::unique_ptr<Kernel> CreateRefGRU() { return std::make_unique<Recurrent<Cell::kGru>>(); }
std::unique_ptr<Kernel> CreateRefLSTM() { return std::make_unique<Recurrent<Cell::kLstm>>(); }

}  // namespace hone::ref
