#include "serve/model_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/errors.h"

namespace hone::serve {
namespace {

Status Err(StatusCode code, std::string message) { return Status(code, std::move(message)); }

std::string DimsText(const std::vector<int64_t>& d) {
  return fmt::format("[{}]", fmt::join(d, ","));
}

// "name:dtype:dims after the batch dimension;..." for every input: equal keys batch together.
std::string ShapeKey(const std::vector<NamedTensor>& inputs) {
  std::string key;
  for (const NamedTensor& in : inputs) {
    key += in.name + ':' + std::to_string(static_cast<int>(in.tensor.dtype()));
    for (int64_t i = 1; i < in.tensor.rank(); ++i) key += ',' + std::to_string(in.tensor.dim(i));
    key += ';';
  }
  return key;
}

// Copies `rows` rows starting at `row` of `src` (rows along dim 0) into `dst` at `at`.
void CopyRows(const Tensor& src, int64_t row, int64_t rows, Tensor& dst, int64_t at) {
  const int64_t per_row = src.dim(0) > 0 ? src.numel() / src.dim(0) : 0;
  if (src.dtype() == DataType::kString) {
    for (int64_t i = 0; i < rows * per_row; ++i)
      dst.data<std::string>()[at * per_row + i] = src.data<std::string>()[row * per_row + i];
    return;
  }
  const size_t row_bytes = DataBytes(src.dtype(), per_row);
  std::memcpy(static_cast<char*>(dst.raw_data()) + static_cast<size_t>(at) * row_bytes,
              static_cast<const char*>(src.raw_data()) + static_cast<size_t>(row) * row_bytes,
              static_cast<size_t>(rows) * row_bytes);
}

}  // namespace

std::vector<int64_t> BatchBuckets(int64_t max_batch_size, const std::vector<int64_t>& preferred) {
  std::vector<int64_t> b;
  if (max_batch_size <= 0) return b;
  for (int64_t p = 1; p < max_batch_size; p *= 2) {
    b.push_back(p);
    if (p >= 2 && p + p / 2 < max_batch_size) b.push_back(p + p / 2);
  }
  b.push_back(max_batch_size);
  b.insert(b.end(), preferred.begin(), preferred.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Load(const ModelEntry& entry, int64_t version,
                                                         int threads) {
  SessionOptions so;
  // 0: one per core, divided between the instances as given counts are.
  const int total = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  so.threads = std::max(1, total / std::max(entry.spec.instances, 1));
  auto session = Session::FromFile(entry.ModelPath(version), so);
  if (!session.ok()) return session.status().WithContext(entry.ModelPath(version));
  ModelSpec spec = entry.spec;
  const std::string where = entry.config_path.empty() ? entry.dir : entry.config_path;
  const int64_t skip = spec.max_batch_size > 0 ? 1 : 0;  // the batch dimension
  auto complete = [&](std::vector<TensorSpec>& list, const std::vector<ValueInfo>& model,
                      const char* field) -> Status {
    if (list.empty()) {
      for (const ValueInfo& v : model) {
        TensorSpec t;
        t.name = v.name;
        t.dtype = v.dtype;
        for (size_t i = static_cast<size_t>(skip); i < v.shape.size(); ++i)
          t.dims.push_back(v.shape[i].known() ? v.shape[i].value : -1);
        list.push_back(std::move(t));
      }
      return Status::Ok();
    }
    for (const TensorSpec& t : list) {
      auto it = std::find_if(model.begin(), model.end(),
                             [&](const ValueInfo& v) { return v.name == t.name; });
      if (it == model.end())
        return InvalidArgument("{}: {} '{}': the model has no such {}", where, field, t.name,
                               field);
      if (it->dtype != t.dtype)
        return InvalidArgument("{}: {} '{}': data_type {} but the model's is {}", where, field,
                               t.name, DataTypeName(t.dtype), DataTypeName(it->dtype));
    }
    return Status::Ok();
  };
  HONE_RETURN_IF_ERROR(complete(spec.inputs, (*session)->inputs(), "input"));
  HONE_RETURN_IF_ERROR(complete(spec.outputs, (*session)->outputs(), "output"));
  std::unique_ptr<ModelRunner> r(new ModelRunner(std::move(*session), std::move(spec), version));
  r->session_threads_ = so.threads;
  return r;
}

ModelRunner::ModelRunner(std::unique_ptr<Session> session, ModelSpec spec, int64_t version)
    : session_(std::move(session)), spec_(std::move(spec)), version_(version) {
  if (spec_.dynamic_batching) {
    policy_ = spec_.batcher;
    buckets_ = BatchBuckets(spec_.max_batch_size, spec_.batcher.preferred_batch_sizes);
  } else {  // requests run as they come; the queue limits still apply
    policy_.max_queue_size = spec_.batcher.max_queue_size;
    policy_.default_timeout_us = spec_.batcher.default_timeout_us;
  }
  idle_ = std::max(spec_.instances, 1);
  for (int i = 0; i < idle_; ++i) workers_.emplace_back([this] { Work(); });
}

ModelRunner::~ModelRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

int64_t ModelRunner::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(queue_.size());
}

Status ModelRunner::Check(const std::vector<NamedTensor>& inputs,
                          const std::vector<std::string>& outputs, int64_t& rows) const {
  rows = 1;
  bool first = true;
  for (const NamedTensor& in : inputs) {
    if (std::count_if(inputs.begin(), inputs.end(),
                      [&](const NamedTensor& o) { return o.name == in.name; }) > 1)
      return InvalidArgument("input '{}' appears twice", in.name);
    auto it = std::find_if(spec_.inputs.begin(), spec_.inputs.end(),
                           [&](const TensorSpec& t) { return t.name == in.name; });
    if (it == spec_.inputs.end()) {
      std::vector<std::string> names;
      for (const auto& t : spec_.inputs) names.push_back(t.name);
      return InvalidArgument("unknown input '{}' (model '{}' takes: {})", in.name, spec_.name,
                             fmt::join(names, ", "));
    }
    if (in.tensor.dtype() != it->dtype)
      return InvalidArgument("input '{}': datatype {} but the model takes {}", in.name,
                             DataTypeName(in.tensor.dtype()), DataTypeName(it->dtype));
    const std::vector<int64_t> got(in.tensor.shape().begin(), in.tensor.shape().end());
    const size_t skip = spec_.max_batch_size > 0 ? 1 : 0;
    bool ok = got.size() == it->dims.size() + skip;
    for (size_t i = 0; ok && i < it->dims.size(); ++i)
      ok = it->dims[i] < 0 || it->dims[i] == got[i + skip];
    if (!ok) {
      std::vector<int64_t> want = it->dims;
      if (skip) want.insert(want.begin(), -1);
      return InvalidArgument("input '{}': shape {} does not match the model's {} (-1: any)",
                             in.name, DimsText(got), DimsText(want));
    }
    if (skip) {
      if (!first && got[0] != rows)
        return InvalidArgument("input '{}': batch size {} differs from the other inputs' {}",
                               in.name, got[0], rows);
      rows = got[0];
      first = false;
    }
  }
  for (const TensorSpec& t : spec_.inputs)
    if (std::none_of(inputs.begin(), inputs.end(),
                     [&](const NamedTensor& in) { return in.name == t.name; }))
      return InvalidArgument("input '{}' is missing", t.name);
  for (const std::string& o : outputs)
    if (std::none_of(spec_.outputs.begin(), spec_.outputs.end(),
                     [&](const TensorSpec& t) { return t.name == o; }))
      return InvalidArgument("unknown output '{}'", o);
  return Status::Ok();
}

std::future<InferResult> ModelRunner::Submit(std::vector<NamedTensor> inputs,
                                             std::vector<std::string> outputs, int64_t timeout_us) {
  Request r;
  std::future<InferResult> f = r.done.get_future();
  int64_t rows = 1;
  if (Status s = Check(inputs, outputs, rows); !s.ok()) {
    r.done.set_value(s);
    return f;
  }
  std::sort(inputs.begin(), inputs.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  r.policy.rows = rows;
  r.policy.shape_key = ShapeKey(inputs);
  r.policy.arrival_us = NowUs();
  r.policy.deadline_us = Deadline(r.policy.arrival_us, timeout_us, policy_);
  r.inputs = std::move(inputs);
  r.outputs = std::move(outputs);
  bool inline_run = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Admission a = Admit(static_cast<int64_t>(queue_.size()), rows, spec_.batcher);
    if (stopping_) {
      r.done.set_value(Err(StatusCode::kUnavailable, "model '" + spec_.name + "' is unloading"));
      return f;
    }
    if (!a.ok) {
      r.done.set_value(Err(StatusCode::kUnavailable, a.reason));
      return f;
    }
    // Without dynamic batching a request that finds the queue empty and an instance idle runs
    // at once on the caller's thread: no hand-off to a worker and back (two thread wake-ups,
    // most of a small model's time in the server). Only for single-threaded sessions: a
    // session's intra-op threads form an OpenMP team per calling thread, and teams of many
    // caller threads spinning beside each other cost more than the hand-off saves.
    inline_run = !spec_.dynamic_batching && session_threads_ == 1 && queue_.empty() && idle_ > 0;
    if (inline_run) {
      --idle_;
    } else {
      queue_.push_back(std::move(r));
    }
  }
  if (inline_run) {
    std::vector<Request> one;
    one.push_back(std::move(r));
    RunBatch(std::move(one));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++idle_;
    }
  }
  wake_.notify_one();
  return f;
}

void ModelRunner::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() || idle_ == 0) {
      if (stopping_ && queue_.empty()) return;
      wake_.wait(lock);
      continue;
    }
    std::vector<Pending> snapshot;
    for (const Request& r : queue_) snapshot.push_back(r.policy);
    const int64_t now = NowUs();
    BatcherConfig policy = policy_;
    if (stopping_) policy.max_queue_delay_us = 0;  // draining: no waiting for fuller batches
    const BatchDecision d = DecideBatch(snapshot, policy, now);
    std::vector<Request> batch, late;
    std::vector<bool> taken(queue_.size(), false);
    for (size_t i : d.timed_out) taken[i] = true;
    for (size_t i : d.batch) taken[i] = true;
    for (size_t i : d.timed_out) late.push_back(std::move(queue_[i]));
    for (size_t i : d.batch) batch.push_back(std::move(queue_[i]));
    std::deque<Request> rest;
    for (size_t i = 0; i < queue_.size(); ++i)
      if (!taken[i]) rest.push_back(std::move(queue_[i]));
    queue_.swap(rest);
    if (batch.empty() && late.empty()) {
      if (d.wake_at_us >= 0)
        wake_.wait_for(lock, std::chrono::microseconds(std::max<int64_t>(d.wake_at_us - now, 1)));
      else
        wake_.wait(lock);
      continue;
    }
    if (!batch.empty()) --idle_;
    lock.unlock();
    for (Request& r : late)
      r.done.set_value(Err(StatusCode::kDeadlineExceeded,
                           "the request timed out in the queue of model '" + spec_.name + "'"));
    const bool ran = !batch.empty();
    if (ran) RunBatch(std::move(batch));
    lock.lock();
    if (ran) {
      ++idle_;
      wake_.notify_one();  // a worker that waited for an idle instance
    }
  }
}

void ModelRunner::RunBatch(std::vector<Request> batch) {
  std::vector<NamedTensor> feed;
  std::vector<int64_t> offsets;  // first row of each request
  int64_t total = 0;
  for (const Request& r : batch) {
    offsets.push_back(total);
    total += r.policy.rows;
  }
  // The rows the model runs: the batch's, padded up to the next bucket (a few shapes only, so
  // the engine's per-shape plans and primitives are built once, not once per batch size).
  int64_t rows = total;
  auto bucket = std::lower_bound(buckets_.begin(), buckets_.end(), total);
  if (bucket != buckets_.end()) rows = *bucket;
  const bool split = batch.size() > 1 || rows != total;
  if (!split) {
    feed = batch[0].inputs;
  } else {
    for (size_t k = 0; k < batch[0].inputs.size(); ++k) {
      const Tensor& first = batch[0].inputs[k].tensor;
      Shape shape = first.shape();
      shape[0] = rows;
      Tensor t = Tensor::Empty(first.dtype(), shape);  // padding rows stay zero
      for (size_t b = 0; b < batch.size(); ++b)
        CopyRows(batch[b].inputs[k].tensor, 0, batch[b].policy.rows, t, offsets[b]);
      feed.push_back({batch[0].inputs[k].name, std::move(t)});
    }
  }
  // Every output once (the requests may ask for different ones).
  const int64_t start = NowUs();
  auto out = session_->Run(feed);
  if (metrics_ != nullptr) {
    metrics_->compute_us.Observe(static_cast<double>(NowUs() - start));
    metrics_->batch_size.Observe(static_cast<double>(total));
    metrics_->executions.fetch_add(1);
    metrics_->inferences.fetch_add(total);
    for (const Request& r : batch)
      metrics_->queue_us.Observe(static_cast<double>(start - r.policy.arrival_us));
  }
  for (size_t b = 0; b < batch.size(); ++b) {
    Request& r = batch[b];
    if (!out.ok()) {
      r.done.set_value(out.status());
      continue;
    }
    std::vector<NamedTensor> mine;
    bool bad = false;
    for (const NamedTensor& o : *out) {
      if (!r.outputs.empty() &&
          std::find(r.outputs.begin(), r.outputs.end(), o.name) == r.outputs.end())
        continue;
      if (!split) {
        mine.push_back(o);
        continue;
      }
      if (o.tensor.rank() == 0 || o.tensor.dim(0) != rows) {
        bad = true;
        break;
      }
      Shape shape = o.tensor.shape();
      shape[0] = r.policy.rows;
      Tensor t = Tensor::Empty(o.tensor.dtype(), shape);
      CopyRows(o.tensor, offsets[b], r.policy.rows, t, 0);
      mine.push_back({o.name, std::move(t)});
    }
    if (bad)
      r.done.set_value(Err(StatusCode::kInternal,
                           "an output of the batched run does not have the batch's rows"));
    else
      r.done.set_value(std::move(mine));
  }
}

}  // namespace hone::serve
