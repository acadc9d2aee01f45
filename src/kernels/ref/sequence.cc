// Reference sequence and optional kernels. ONNX operators: SequenceEmpty, SequenceConstruct,
// SequenceAt, SequenceInsert, SequenceErase, SequenceLength, ConcatFromSequence,
// SplitToSequence (11-22), SequenceMap (17-22), Optional, OptionalHasElement,
// OptionalGetElement (15-22).
#include "kernels/ref/common.h"
#include "runtime/plan.h"

namespace hone::ref {
namespace {

// Base for kernels whose inputs may be sequences or empty optionals.
class ValueKernel : public Kernel {
 public:
  bool AcceptsAnyValue() const override { return true; }
};

StatusOr<const Value*> SequenceInput(const ComputeContext& ctx, int i) {
  const Value* v = ctx.input_value(i);
  if (!v || !v->is_sequence())
    return InvalidArgument("{}: input {} must be a sequence", ctx.node().Describe(), i);
  return v;
}

// Reads a position input and checks it against [-n, n) (or [-n, n] when `inclusive`).
StatusOr<int64_t> Position(const ComputeContext& ctx, int i, int64_t n, bool inclusive,
                           int64_t dflt) {
  const Tensor* t = ctx.input(i);
  if (!t) return dflt;
  HONE_ASSIGN_OR_RETURN(double d, ToScalar(ctx.node(), *t, "position"));
  int64_t p = static_cast<int64_t>(d);
  int64_t hi = inclusive ? n : n - 1;
  if (p < -n || p > hi)
    return InvalidArgument("{}: position {} is out of range for a sequence of {}",
                           ctx.node().Describe(), p, n);
  return p < 0 ? p + n : p;
}

class SequenceEmpty final : public ValueKernel {
 public:
  Status Init(const InitContext& ctx) override {
    dtype_ = static_cast<DataType>(ctx.attr_int("dtype", static_cast<int64_t>(DataType::kFloat32)));
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    ctx.SetOutputValue(0, Value::Sequence({}, dtype_));
    return Status::Ok();
  }

 private:
  DataType dtype_ = DataType::kFloat32;
};

class SequenceConstruct final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    std::vector<Tensor> items;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) return ctx.Error("input {} must be a tensor", i);
      if (!items.empty() && t->dtype() != items[0].dtype())
        return ctx.Error("inputs have different dtypes");
      items.push_back(*t);
    }
    DataType d = items.empty() ? DataType::kFloat32 : items[0].dtype();
    ctx.SetOutputValue(0, Value::Sequence(std::move(items), d));
    return Status::Ok();
  }
};

class SequenceAt final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    const int64_t n = static_cast<int64_t>(s->sequence().size());
    if (!ctx.input(1)) return ctx.Error("position is required");
    HONE_ASSIGN_OR_RETURN(int64_t p, Position(ctx, 1, n, false, 0));
    ctx.SetOutput(0, s->sequence()[static_cast<size_t>(p)]);
    return Status::Ok();
  }
};

class SequenceInsert final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    const Tensor* t = ctx.input(1);
    if (!t) return ctx.Error("tensor input is required");
    std::vector<Tensor> items = s->sequence();
    if (s->sequence_dtype() != DataType::kUndefined && t->dtype() != s->sequence_dtype() &&
        !items.empty())
      return ctx.Error("tensor dtype {} differs from the sequence's {}", DataTypeName(t->dtype()),
                       DataTypeName(s->sequence_dtype()));
    const int64_t n = static_cast<int64_t>(items.size());
    HONE_ASSIGN_OR_RETURN(int64_t p, Position(ctx, 2, n, true, n));
    items.insert(items.begin() + p, *t);
    ctx.SetOutputValue(0, Value::Sequence(std::move(items), t->dtype()));
    return Status::Ok();
  }
};

class SequenceErase final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    std::vector<Tensor> items = s->sequence();
    const int64_t n = static_cast<int64_t>(items.size());
    if (n == 0) return ctx.Error("cannot erase from an empty sequence");
    HONE_ASSIGN_OR_RETURN(int64_t p, Position(ctx, 1, n, false, n - 1));
    items.erase(items.begin() + p);
    ctx.SetOutputValue(0, Value::Sequence(std::move(items), s->sequence_dtype()));
    return Status::Ok();
  }
};

class SequenceLength final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    Tensor& y = ctx.Output(0, DataType::kInt64, {});
    y.data<int64_t>()[0] = static_cast<int64_t>(s->sequence().size());
    return Status::Ok();
  }
};

class ConcatFromSequence final : public ValueKernel {
 public:
  Status Init(const InitContext& ctx) override {
    if (!ctx.has_attr("axis")) return ctx.Invalid("attribute axis is required");
    axis_ = ctx.attr_int("axis", 0);
    new_axis_ = ctx.attr_int("new_axis", 0) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    const auto& items = s->sequence();
    if (items.empty()) return ctx.Error("cannot concatenate an empty sequence");
    std::vector<Tensor> parts;
    const int64_t rank = items[0].rank() + (new_axis_ ? 1 : 0);
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, rank));
    for (const Tensor& t : items) {
      if (t.dtype() != items[0].dtype() || t.rank() != items[0].rank())
        return ctx.Error("sequence elements differ in dtype or rank");
      if (new_axis_) {
        Shape sh = t.shape();
        sh.insert(sh.begin() + axis, 1);
        parts.push_back(t.Reshaped(sh));
      } else {
        parts.push_back(t);
      }
    }
    Shape shape = parts[0].shape();
    int64_t total = 0;
    for (const Tensor& p : parts) {
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis && p.dim(d) != shape[static_cast<size_t>(d)])
          return ctx.Error("sequence elements have incompatible shapes {} and {}",
                           ShapeToString(shape), ShapeToString(p.shape()));
      total += p.dim(axis);
    }
    shape[static_cast<size_t>(axis)] = total;
    Tensor& y = ctx.Output(0, parts[0].dtype(), shape);
    const int64_t outer = ShapeSize(Shape(shape.begin(), shape.begin() + axis));
    const int64_t inner = ShapeSize(Shape(shape.begin() + axis + 1, shape.end()));
    int64_t offset = 0;
    for (const Tensor& p : parts) {
      const int64_t chunk = p.dim(axis) * inner;
      for (int64_t o = 0; o < outer; ++o)
        CopyElements(p, o * chunk, y, o * total * inner + offset, chunk);
      offset += chunk;
    }
    return Status::Ok();
  }

 private:
  int64_t axis_ = 0;
  bool new_axis_ = false;
};

class SplitToSequence final : public ValueKernel {
 public:
  Status Init(const InitContext& ctx) override {
    axis_ = ctx.attr_int("axis", 0);
    keepdims_ = ctx.attr_int("keepdims", 1) != 0;
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.Error("input must be a tensor");
    HONE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(ctx.node(), axis_, x->rank()));
    const int64_t len = x->dim(axis);
    std::vector<int64_t> sizes;
    bool squeeze = false;
    if (const Tensor* sp = ctx.input(1)) {
      HONE_ASSIGN_OR_RETURN(std::vector<int64_t> v, ToInt64Vector(ctx.node(), *sp, "split"));
      if (sp->rank() == 0) {
        if (v[0] <= 0) return ctx.Error("split must be positive");
        for (int64_t a = 0; a < len; a += v[0]) sizes.push_back(std::min(v[0], len - a));
      } else {
        int64_t sum = 0;
        for (int64_t s : v) {
          if (s < 0) return ctx.Error("split sizes must be non-negative");
          sum += s;
        }
        if (sum != len) return ctx.Error("split sizes sum to {}, axis has {}", sum, len);
        sizes = v;
      }
    } else {
      sizes.assign(static_cast<size_t>(len), 1);
      squeeze = !keepdims_;
    }
    const auto& shape = x->shape();
    const int64_t outer = ShapeSize(Shape(shape.begin(), shape.begin() + axis));
    const int64_t inner = ShapeSize(Shape(shape.begin() + axis + 1, shape.end()));
    std::vector<Tensor> items;
    int64_t start = 0;
    for (int64_t s : sizes) {
      Shape sh = shape;
      sh[static_cast<size_t>(axis)] = s;
      Tensor part = Tensor::Empty(x->dtype(), sh);
      for (int64_t o = 0; o < outer; ++o)
        CopyElements(*x, (o * len + start) * inner, part, o * s * inner, s * inner);
      if (squeeze) {
        sh.erase(sh.begin() + axis);
        part = part.Reshaped(sh);
      }
      items.push_back(part);
      start += s;
    }
    ctx.SetOutputValue(0, Value::Sequence(std::move(items), x->dtype()));
    return Status::Ok();
  }

 private:
  int64_t axis_ = 0;
  bool keepdims_ = true;
};

class SequenceMap final : public ValueKernel {
 public:
  Status Init(const InitContext& ctx) override {
    const Graph* body = ctx.attr_graph("body");
    if (!body) return ctx.Invalid("needs a body graph");
    if (static_cast<int>(body->inputs.size()) != ctx.num_inputs() ||
        static_cast<int>(body->outputs.size()) != ctx.num_outputs())
      return ctx.Invalid("body signature does not match the node");
    for (const auto& o : body->outputs) out_dtypes_.push_back(o.dtype);
    HONE_ASSIGN_OR_RETURN(body_, ctx.CompileSubgraph(*body));
    return Status::Ok();
  }
  Status Compute(ComputeContext& ctx) const override {
    HONE_ASSIGN_OR_RETURN(const Value* s, SequenceInput(ctx, 0));
    const size_t n = s->sequence().size();
    for (int i = 1; i < ctx.num_inputs(); ++i) {
      const Value* v = ctx.input_value(i);
      if (v && v->is_sequence() && v->sequence().size() != n)
        return ctx.Error("sequence inputs have different lengths");
    }
    std::vector<std::vector<Tensor>> outs(static_cast<size_t>(ctx.num_outputs()));
    for (size_t k = 0; k < n; ++k) {
      std::vector<Value> in;
      in.push_back(s->sequence()[k]);
      for (int i = 1; i < ctx.num_inputs(); ++i) {
        const Value* v = ctx.input_value(i);
        in.push_back(v->is_sequence() ? Value(v->sequence()[k]) : *v);
      }
      HONE_ASSIGN_OR_RETURN(std::vector<Value> out, ctx.RunSubgraph(*body_, in));
      for (size_t j = 0; j < out.size(); ++j) {
        if (!out[j].is_tensor()) return ctx.Error("body output {} is not a tensor", j);
        outs[j].push_back(out[j].tensor());
      }
    }
    for (size_t j = 0; j < outs.size(); ++j)
      ctx.SetOutputValue(static_cast<int>(j), Value::Sequence(std::move(outs[j]), out_dtypes_[j]));
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Plan> body_;
  std::vector<DataType> out_dtypes_;
};

class Optional final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Value* v = ctx.input_value(0);
    ctx.SetOutputValue(0, v ? *v : Value::None());
    return Status::Ok();
  }
};

class OptionalHasElement final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Value* v = ctx.input_value(0);
    Tensor& y = ctx.Output(0, DataType::kBool, {});
    y.data<bool>()[0] = v != nullptr && !v->is_none();
    return Status::Ok();
  }
};

class OptionalGetElement final : public ValueKernel {
 public:
  Status Compute(ComputeContext& ctx) const override {
    const Value* v = ctx.input_value(0);
    if (!v || v->is_none()) return ctx.Error("the optional input has no value");
    ctx.SetOutputValue(0, *v);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Kernel> CreateRefSequenceEmpty() { return std::make_unique<SequenceEmpty>(); }
std::unique_ptr<Kernel> CreateRefSequenceConstruct() {
  return std::make_unique<SequenceConstruct>();
}
std::unique_ptr<Kernel> CreateRefSequenceAt() { return std::make_unique<SequenceAt>(); }
std::unique_ptr<Kernel> CreateRefSequenceInsert() { return std::make_unique<SequenceInsert>(); }
std::unique_ptr<Kernel> CreateRefSequenceErase() { return std::make_unique<SequenceErase>(); }
std::unique_ptr<Kernel> CreateRefSequenceLength() { return std::make_unique<SequenceLength>(); }
std::unique_ptr<Kernel> CreateRefConcatFromSequence() {
  return std::make_unique<ConcatFromSequence>();
}
std::unique_ptr<Kernel> CreateRefSplitToSequence() { return std::make_unique<SplitToSequence>(); }
std::unique_ptr<Kernel> CreateRefSequenceMap() { return std::make_unique<SequenceMap>(); }
std::unique_ptr<Kernel> CreateRefOptional() { return std::make_unique<Optional>(); }
std::unique_ptr<Kernel> CreateRefOptionalHasElement() {
  return std::make_unique<OptionalHasElement>();
}
std::unique_ptr<Kernel> CreateRefOptionalGetElement() {
  return std::make_unique<OptionalGetElement>();
}

}  // namespace hone::ref
