// hone eval MODEL: top-1 accuracy against labels, and agreement with a reference model (cosine
// similarity and largest absolute difference of the outputs).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cli.h"
#include "core/errors.h"

namespace hone::cli {
namespace {

// Concatenates same-shaped (but for axis 0) tensors along axis 0.
Tensor Concat(const std::vector<Tensor>& parts) {
  if (parts.size() == 1) return parts[0];
  Shape shape = parts[0].shape();
  int64_t n = 0;
  for (const Tensor& p : parts) n += p.dim(0);
  shape[0] = n;
  Tensor out = Tensor::Empty(parts[0].dtype(), shape);
  int64_t at = 0;
  for (const Tensor& p : parts) {
    if (p.dtype() == DataType::kString) {
      std::copy(p.data<std::string>(), p.data<std::string>() + p.numel(),
                out.data<std::string>() + at);
    } else {
      std::memcpy(
          static_cast<char*>(out.raw_data()) + static_cast<size_t>(at) * DataTypeSize(p.dtype()),
          p.raw_data(), p.nbytes());
    }
    at += p.numel();
  }
  return out;
}

// Runs `s` over the feed in chunks of `batch` rows (0: all at once) and returns output `name`
// (the first when empty) with the chunks joined.
StatusOr<Tensor> RunChunked(const Session& s, const std::vector<NamedTensor>& feed, int64_t batch,
                            const std::string& name) {
  const int64_t rows = feed.empty() || feed[0].tensor.rank() == 0 ? 1 : feed[0].tensor.dim(0);
  if (batch <= 0) batch = rows;
  if (rows % batch != 0)
    return InvalidArgument(
        "{} rows do not split into batches of {} (--batch, or the model's fixed batch size)", rows,
        batch);
  std::vector<Tensor> parts;
  for (int64_t b = 0; b < rows; b += batch) {
    std::vector<NamedTensor> chunk;
    for (const NamedTensor& nt : feed) {
      if (nt.tensor.rank() == 0 || nt.tensor.dim(0) != rows)
        return InvalidArgument("input '{}' has {} rows, the first input {}", nt.name,
                               nt.tensor.rank() ? nt.tensor.dim(0) : 0, rows);
      chunk.push_back({nt.name, nt.tensor.Rows(b, batch)});
    }
    HONE_ASSIGN_OR_RETURN(
        std::vector<NamedTensor> out,
        s.Run(chunk, name.empty() ? std::vector<std::string>{} : std::vector<std::string>{name}));
    parts.push_back(out[0].tensor);
  }
  return Concat(parts);
}

// The model's batch size when its first input fixes one, else 0.
int64_t FixedBatch(const Session& s) {
  if (s.inputs().empty()) return 0;
  const ValueInfo& in = s.inputs()[0];
  return in.has_shape && !in.shape.empty() && in.shape[0].known() ? in.shape[0].value : 0;
}

}  // namespace

Runner SetupEval(CLI::App& app) {
  struct Opts {
    std::string model, data, labels, reference, output;
    std::vector<std::string> inputs;
    int64_t batch = 0;
    bool json = false;
    SessionFlags session;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("model", o->model, "ONNX model file")->required();
  app.add_option("--data", o->data, "the model's (first) input, one row per sample (.npy)");
  app.add_option("--input,-i", o->inputs,
                 "NAME=FILE.npy per input instead of --data (each with the same rows)");
  app.add_option("--labels", o->labels,
                 "the true class per row (.npy: int class indices, or strings for models that "
                 "output labels): prints top-1 accuracy");
  app.add_option("--reference", o->reference,
                 "another model run on the same inputs: prints cosine similarity and the largest "
                 "absolute difference of the outputs");
  app.add_option("--output", o->output, "the output to evaluate (default: the first)");
  app.add_option("--batch", o->batch,
                 "rows per run (default: the model's fixed batch size, else all rows at once)");
  app.add_flag("--json", o->json, "print one JSON object: top1, cosine, max_abs_err, n");
  // Not AddSessionFlags: its --reference (reference kernels) would clash with --reference here.
  app.add_option("--threads", o->session.threads, "intra-op threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--level", o->session.level, "graph optimisation: none, basic or all")
      ->capture_default_str();
  return [o]() -> int {
    if (o->labels.empty() && o->reference.empty())
      return Fail(InvalidArgument("give --labels, --reference or both"));
    auto so = SessionOptionsFrom(o->session);
    if (!so.ok()) return Fail(so.status());
    auto s = Session::FromFile(o->model, *so);
    if (!s.ok()) return Fail(s.status());
    std::vector<NamedTensor> feed;
    if (!o->data.empty()) {
      if (!o->inputs.empty()) return Fail(InvalidArgument("give --data or --input, not both"));
      auto x = ReadNpy(o->data);
      if (!x.ok()) return Fail(x.status());
      feed.push_back({(*s)->inputs()[0].name, *x});
    } else {
      auto f = LoadInputs(**s, o->inputs, /*random=*/false, 0);
      if (!f.ok()) return Fail(f.status());
      feed = *f;
    }
    const int64_t batch = o->batch > 0 ? o->batch : FixedBatch(**s);
    auto y = RunChunked(**s, feed, batch, o->output);
    if (!y.ok()) return Fail(y.status().WithContext(o->model));
    const int64_t n = y->rank() ? y->dim(0) : 1;
    std::string text = fmt::format("n {}", n), json = fmt::format("{{\"n\": {}", n);
    if (!o->labels.empty()) {
      auto labels = ReadNpy(o->labels);
      if (!labels.ok()) return Fail(labels.status());
      if (labels->numel() != n)
        return Fail(InvalidArgument("{} labels for {} rows", labels->numel(), n));
      int64_t right = 0;
      if (y->dtype() == DataType::kString || labels->dtype() == DataType::kString) {
        if (y->dtype() != DataType::kString || labels->dtype() != DataType::kString)
          return Fail(InvalidArgument("string labels need a model that outputs string labels"));
        for (int64_t i = 0; i < n; ++i)
          right += y->data<std::string>()[i] == labels->data<std::string>()[i];
      } else {
        auto as_int = [](const Tensor& t, int64_t i) -> int64_t {
          switch (t.dtype()) {
            case DataType::kInt64:
              return t.data<int64_t>()[i];
            case DataType::kInt32:
              return t.data<int32_t>()[i];
            case DataType::kUInt8:
              return t.data<uint8_t>()[i];
            default:
              return INT64_MIN;
          }
        };
        if (as_int(*labels, 0) == INT64_MIN && n > 0)
          return Fail(
              InvalidArgument("labels must be integers (int64, int32, uint8) or strings, got {}",
                              DataTypeName(labels->dtype())));
        const bool scores = y->dtype() == DataType::kFloat32 && y->rank() >= 2;
        if (!scores && as_int(*y, 0) == INT64_MIN && n > 0)
          return Fail(InvalidArgument("output is {} {}: expected class scores [N, C] or labels [N]",
                                      DataTypeName(y->dtype()), ShapeToString(y->shape())));
        const int64_t c = scores ? y->numel() / n : 1;
        for (int64_t i = 0; i < n; ++i) {
          int64_t pred;
          if (scores) {
            const float* row = y->data<float>() + i * c;
            pred = std::max_element(row, row + c) - row;
          } else {
            pred = as_int(*y, i);
          }
          right += pred == as_int(*labels, i);
        }
      }
      const double top1 = n ? static_cast<double>(right) / static_cast<double>(n) : 0.0;
      text += fmt::format("  top-1 {:.4f}", top1);
      json += fmt::format(", \"top1\": {:.6f}", top1);
    }
    if (!o->reference.empty()) {
      auto r = Session::FromFile(o->reference, *so);
      if (!r.ok()) return Fail(r.status());
      auto z = RunChunked(**r, feed, o->batch > 0 ? o->batch : FixedBatch(**r), o->output);
      if (!z.ok()) return Fail(z.status().WithContext(o->reference));
      if (z->shape() != y->shape() || y->dtype() != DataType::kFloat32 ||
          z->dtype() != DataType::kFloat32)
        return Fail(InvalidArgument("outputs differ in kind: {} {} vs reference {} {}",
                                    DataTypeName(y->dtype()), ShapeToString(y->shape()),
                                    DataTypeName(z->dtype()), ShapeToString(z->shape())));
      double dot = 0, aa = 0, bb = 0, worst = 0;
      for (int64_t i = 0; i < y->numel(); ++i) {
        const double a = y->data<float>()[i], b = z->data<float>()[i];
        dot += a * b;
        aa += a * a;
        bb += b * b;
        worst = std::max(worst, std::abs(a - b));
      }
      const double cosine = aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
      text += fmt::format("  cosine {:.6f}  max |diff| {:.6g}", cosine, worst);
      json += fmt::format(", \"cosine\": {:.8f}, \"max_abs_err\": {:.8g}", cosine, worst);
    }
    fmt::print("{}\n", o->json ? json + "}" : text);
    return 0;
  };
}

}  // namespace hone::cli
