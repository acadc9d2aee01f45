// Reference control-flow kernels. ONNX operators: If (1-22), Loop (1-22), Scan (9-22).
// Subgraphs are compiled once in Init; at run time they execute with the node's frame as their
// enclosing scope, so they can read any value visible to the node.
#include <cstring>

#include "kernels/ref/common.h"
#include "runtime/plan.h"

namespace hone::ref {
namespace {

class If final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const Graph* then_g = ctx.attr_graph("then_branch");
    const Graph* else_g = ctx.attr_graph("else_branch");
    if (!then_g || !else_g) return ctx.Invalid("needs then_branch and else_branch graphs");
    if (static_cast<int>(then_g->outputs.size()) != ctx.num_outputs() ||
        static_cast<int>(else_g->outputs.size()) != ctx.num_outputs())
      return ctx.Invalid("branches have {} and {} outputs, the node has {}", then_g->outputs.size(),
                         else_g->outputs.size(), ctx.num_outputs());
    HONE_ASSIGN_OR_RETURN(then_, ctx.CompileSubgraph(*then_g));
    HONE_ASSIGN_OR_RETURN(else_, ctx.CompileSubgraph(*else_g));
    return Status::Ok();
  }
  bool AcceptsAnyValue() const override { return true; }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor& c = *ctx.input(0);
    if (c.numel() != 1 || c.dtype() != DataType::kBool)
      return ctx.Error("cond must be a single bool, got {} {}", DataTypeName(c.dtype()),
                       ShapeToString(c.shape()));
    const Plan& branch = c.data<bool>()[0] ? *then_ : *else_;
    HONE_ASSIGN_OR_RETURN(std::vector<Value> outs, ctx.RunSubgraph(branch, {}));
    for (size_t i = 0; i < outs.size(); ++i) ctx.SetOutputValue(static_cast<int>(i), outs[i]);
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Plan> then_, else_;
};

// Stacks equally shaped tensors along a new axis `axis` (0 = outermost).
StatusOr<Tensor> Stack(const Node& node, const std::vector<Tensor>& parts, int64_t axis,
                       bool reverse, DataType empty_dtype) {
  if (parts.empty()) return Tensor::Empty(empty_dtype, {0});
  const auto& s0 = parts[0].shape();
  for (const auto& p : parts)
    if (p.shape() != s0 || p.dtype() != parts[0].dtype())
      return InvalidArgument("{}: scan output changes shape across iterations ({} vs {})",
                             node.Describe(), ShapeToString(s0), ShapeToString(p.shape()));
  const int64_t rank = static_cast<int64_t>(s0.size()) + 1;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    return InvalidArgument("{}: scan output axis out of range", node.Describe());
  Shape shape = s0;
  shape.insert(shape.begin() + axis, static_cast<int64_t>(parts.size()));
  Tensor out = Tensor::Empty(parts[0].dtype(), shape);
  const int64_t outer = ShapeSize(Shape(s0.begin(), s0.begin() + axis));
  const int64_t inner = ShapeSize(Shape(s0.begin() + axis, s0.end()));
  const int64_t n = static_cast<int64_t>(parts.size());
  for (int64_t k = 0; k < n; ++k) {
    const Tensor& p = parts[static_cast<size_t>(reverse ? n - 1 - k : k)];
    for (int64_t o = 0; o < outer; ++o) CopyElements(p, o * inner, out, (o * n + k) * inner, inner);
  }
  return out;
}

// Slice k of `t` along `axis`, with that axis removed.
Tensor TakeSlice(const Tensor& t, int64_t axis, int64_t k) {
  Shape shape = t.shape();
  const int64_t n = shape[static_cast<size_t>(axis)];
  shape.erase(shape.begin() + axis);
  Tensor out = Tensor::Empty(t.dtype(), shape);
  const int64_t outer = ShapeSize(Shape(t.shape().begin(), t.shape().begin() + axis));
  const int64_t inner = ShapeSize(Shape(t.shape().begin() + axis + 1, t.shape().end()));
  for (int64_t o = 0; o < outer; ++o) CopyElements(t, (o * n + k) * inner, out, o * inner, inner);
  return out;
}

class Loop final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const Graph* body = ctx.attr_graph("body");
    if (!body) return ctx.Invalid("needs a body graph");
    const int carried = ctx.num_inputs() - 2;
    if (carried < 0) return ctx.Invalid("needs at least inputs M and cond (may be empty names)");
    if (static_cast<int>(body->inputs.size()) != carried + 2)
      return ctx.Invalid("body has {} inputs, expected {} (iteration, cond, {} carried)",
                         body->inputs.size(), carried + 2, carried);
    if (static_cast<int>(body->outputs.size()) < carried + 1)
      return ctx.Invalid("body has {} outputs, expected at least {}", body->outputs.size(),
                         carried + 1);
    carried_ = carried;
    scan_outputs_ = static_cast<int>(body->outputs.size()) - 1 - carried;
    for (int i = 0; i < scan_outputs_; ++i)
      scan_dtypes_.push_back(body->outputs[static_cast<size_t>(1 + carried + i)].dtype);
    HONE_ASSIGN_OR_RETURN(body_, ctx.CompileSubgraph(*body));
    return Status::Ok();
  }
  bool AcceptsAnyValue() const override { return true; }
  Status Compute(ComputeContext& ctx) const override {
    constexpr int64_t kMaxUnbounded = int64_t{1} << 40;
    int64_t max_trip = kMaxUnbounded;
    if (const Tensor* m = ctx.input(0)) {
      HONE_ASSIGN_OR_RETURN(double v, ToScalar(ctx.node(), *m, "M"));
      max_trip = static_cast<int64_t>(v);
    }
    bool cond = true;
    if (const Tensor* c = ctx.input(1)) {
      HONE_ASSIGN_OR_RETURN(double v, ToScalar(ctx.node(), *c, "cond"));
      cond = v != 0;
    }
    if (max_trip == kMaxUnbounded && !ctx.input(1))
      return ctx.Error("neither M nor cond is given: the loop would never end");
    std::vector<Value> state;
    for (int i = 0; i < carried_; ++i) {
      const Value* v = ctx.input_value(2 + i);
      state.push_back(v ? *v : Value::None());
    }
    std::vector<std::vector<Tensor>> scans(static_cast<size_t>(scan_outputs_));
    for (int64_t it = 0; it < max_trip && cond; ++it) {
      std::vector<Value> in;
      Tensor iter = Tensor::Empty(DataType::kInt64, {});
      iter.data<int64_t>()[0] = it;
      Tensor c = Tensor::Empty(DataType::kBool, {});
      c.data<bool>()[0] = cond;
      in.push_back(iter);
      in.push_back(c);
      for (auto& s : state) in.push_back(s);
      HONE_ASSIGN_OR_RETURN(std::vector<Value> out, ctx.RunSubgraph(*body_, in));
      if (!out[0].is_tensor()) return ctx.Error("body cond output is not a tensor");
      HONE_ASSIGN_OR_RETURN(double cv, ToScalar(ctx.node(), out[0].tensor(), "body cond output"));
      cond = cv != 0;
      for (int i = 0; i < carried_; ++i)
        state[static_cast<size_t>(i)] = out[static_cast<size_t>(1 + i)];
      for (int i = 0; i < scan_outputs_; ++i) {
        const Value& sv = out[static_cast<size_t>(1 + carried_ + i)];
        if (!sv.is_tensor()) return ctx.Error("scan output {} is not a tensor", i);
        scans[static_cast<size_t>(i)].push_back(sv.tensor());
      }
    }
    for (int i = 0; i < carried_ && i < ctx.num_outputs(); ++i)
      ctx.SetOutputValue(i, state[static_cast<size_t>(i)]);
    for (int i = 0; i < scan_outputs_ && carried_ + i < ctx.num_outputs(); ++i) {
      HONE_ASSIGN_OR_RETURN(Tensor t, Stack(ctx.node(), scans[static_cast<size_t>(i)], 0, false,
                                            scan_dtypes_[static_cast<size_t>(i)]));
      ctx.SetOutput(carried_ + i, t);
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Plan> body_;
  int carried_ = 0, scan_outputs_ = 0;
  std::vector<DataType> scan_dtypes_;
};

class Scan final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (ctx.opset() < 9) return Decline("Scan-8 (with sequence_lens) is not supported");
    const Graph* body = ctx.attr_graph("body");
    if (!body) return ctx.Invalid("needs a body graph");
    m_ = static_cast<int>(ctx.attr_int("num_scan_inputs", -1));
    if (m_ < 1 || m_ > ctx.num_inputs()) return ctx.Invalid("bad num_scan_inputs {}", m_);
    n_ = ctx.num_inputs() - m_;
    k_ = ctx.num_outputs() - n_;
    if (static_cast<int>(body->inputs.size()) != n_ + m_ ||
        static_cast<int>(body->outputs.size()) != n_ + k_)
      return ctx.Invalid("body signature does not match the node's inputs and outputs");
    in_axes_ = ctx.attr_ints("scan_input_axes", std::vector<int64_t>(static_cast<size_t>(m_), 0));
    in_dirs_ =
        ctx.attr_ints("scan_input_directions", std::vector<int64_t>(static_cast<size_t>(m_), 0));
    out_axes_ = ctx.attr_ints("scan_output_axes", std::vector<int64_t>(static_cast<size_t>(k_), 0));
    out_dirs_ =
        ctx.attr_ints("scan_output_directions", std::vector<int64_t>(static_cast<size_t>(k_), 0));
    if (static_cast<int>(in_axes_.size()) != m_ || static_cast<int>(in_dirs_.size()) != m_ ||
        static_cast<int>(out_axes_.size()) != k_ || static_cast<int>(out_dirs_.size()) != k_)
      return ctx.Invalid("scan axes/directions attributes have the wrong length");
    for (int i = 0; i < k_; ++i)
      out_dtypes_.push_back(body->outputs[static_cast<size_t>(n_ + i)].dtype);
    HONE_ASSIGN_OR_RETURN(body_, ctx.CompileSubgraph(*body));
    return Status::Ok();
  }
  bool AcceptsAnyValue() const override { return true; }
  Status Compute(ComputeContext& ctx) const override {
    std::vector<Value> state;
    for (int i = 0; i < n_; ++i) state.push_back(*ctx.input_value(i));
    int64_t len = -1;
    std::vector<int64_t> axes(static_cast<size_t>(m_));
    for (int j = 0; j < m_; ++j) {
      const Tensor& x = *ctx.input(n_ + j);
      HONE_ASSIGN_OR_RETURN(axes[static_cast<size_t>(j)],
                            NormalizeAxis(ctx.node(), in_axes_[static_cast<size_t>(j)], x.rank()));
      int64_t l = x.dim(axes[static_cast<size_t>(j)]);
      if (len >= 0 && l != len)
        return ctx.Error("scan inputs have different lengths {} and {}", len, l);
      len = l;
    }
    std::vector<std::vector<Tensor>> outs(static_cast<size_t>(k_));
    for (int64_t t = 0; t < len; ++t) {
      std::vector<Value> in = state;
      for (int j = 0; j < m_; ++j) {
        int64_t k = in_dirs_[static_cast<size_t>(j)] ? len - 1 - t : t;
        in.push_back(TakeSlice(*ctx.input(n_ + j), axes[static_cast<size_t>(j)], k));
      }
      HONE_ASSIGN_OR_RETURN(std::vector<Value> out, ctx.RunSubgraph(*body_, in));
      for (int i = 0; i < n_; ++i) state[static_cast<size_t>(i)] = out[static_cast<size_t>(i)];
      for (int i = 0; i < k_; ++i)
        if (!out[static_cast<size_t>(n_ + i)].is_tensor())
          return ctx.Error("scan output {} is not a tensor", i);
      for (int i = 0; i < k_; ++i)
        outs[static_cast<size_t>(i)].push_back(out[static_cast<size_t>(n_ + i)].tensor());
    }
    for (int i = 0; i < n_; ++i) ctx.SetOutputValue(i, state[static_cast<size_t>(i)]);
    for (int i = 0; i < k_; ++i) {
      HONE_ASSIGN_OR_RETURN(
          Tensor t,
          Stack(ctx.node(), outs[static_cast<size_t>(i)], out_axes_[static_cast<size_t>(i)],
                out_dirs_[static_cast<size_t>(i)] != 0, out_dtypes_[static_cast<size_t>(i)]));
      ctx.SetOutput(n_ + i, t);
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Plan> body_;
  int n_ = 0, m_ = 0, k_ = 0;
  std::vector<int64_t> in_axes_, in_dirs_, out_axes_, out_dirs_;
  std::vector<DataType> out_dtypes_;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefIf() { return std::make_unique<If>(); }
std::unique_ptr<Kernel> CreateRefLoop() { return std::make_unique<Loop>(); }
std::unique_ptr<Kernel> CreateRefScan() { return std::make_unique<Scan>(); }

}  // namespace hone::ref
