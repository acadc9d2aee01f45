// Session: import, compile, validate inputs, run.
#include "hone/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>

#include "core/buffer_stats.h"
#include "core/errors.h"
#include "core/thread_pool.h"
#include "ir/onnx_import.h"
#include "passes/pipeline.h"
#include "runtime/evaluate.h"
#include "runtime/plan.h"

namespace hone {

std::string DimsToString(const ValueInfo& info) {
  if (!info.has_shape) return "*";
  std::string s = "[";
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (i) s += ",";
    const Dim& d = info.shape[i];
    s += d.known() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

// What the runs of one input-shape signature share: the activation layout and the shape values
// recorded by its first run, and the arenas of finished runs, ready for the next ones.
struct SignatureState {
  struct Input {
    bool tensor = false;
    DataType dtype = DataType::kUndefined;
    Shape shape;
  };
  std::vector<Input> key;
  uint64_t last_used = 0;

  enum class Stage { kNew, kRecording, kReady, kDynamic };
  std::mutex mu;  // guards the members below
  Stage stage = Stage::kNew;
  std::shared_ptr<const AllocationPlan> layout;
  std::shared_ptr<const ShapeMemo> memo;
  // What one run borrows and gives back: its activation arena and its containers.
  struct Lease {
    std::unique_ptr<Arena> arena;
    FrameScratch scratch;
  };
  std::vector<std::unique_ptr<Lease>> idle;
  int misses = 0;  // replays that diverged from the recording

  bool Matches(const std::vector<Value>& feed) const {
    if (feed.size() != key.size()) return false;
    for (size_t i = 0; i < feed.size(); ++i) {
      const bool tensor = feed[i].is_tensor();
      if (tensor != key[i].tensor) return false;
      if (tensor &&
          (feed[i].tensor().dtype() != key[i].dtype || feed[i].tensor().shape() != key[i].shape))
        return false;
    }
    return true;
  }
};

class SessionImpl {
 public:
  Model model;
  SessionOptions options;
  std::shared_ptr<const Plan> plan;
  std::vector<ValueInfo> inputs;  // graph inputs without initializers come first... all of them
  std::vector<bool> input_required;
  std::vector<ValueInfo> outputs;
  ModelInfo info;
  std::vector<PassRun> passes;  // what the graph passes did, for --verbose
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Profiler> profiler;  // set when options.profile

  // Least recently used signatures are dropped past kMaxSignatures (runs in flight keep theirs).
  // 16 holds every batch size hone serve's dynamic batcher runs a model at up to 128 rows
  // (serve/model_runner.h, BatchBuckets).
  static constexpr size_t kMaxSignatures = 16;
  static constexpr size_t kMaxIdleArenas = 4;  // per signature: concurrent runs seen
  std::mutex signatures_mu;                    // guards signatures and clock
  std::vector<std::shared_ptr<SignatureState>> signatures;
  uint64_t clock = 0;

  std::shared_ptr<SignatureState> Signature(const std::vector<Value>& feed);
  // Runs the plan on `feed` (graph inputs in order); the graph outputs go to `results`.
  Status Run(const std::vector<Value>& feed, std::vector<Value>& results);
};

std::shared_ptr<SignatureState> SessionImpl::Signature(const std::vector<Value>& feed) {
  if (!options.memory_plan) return nullptr;
  for (const Value& v : feed)
    if (v.is_set() && !v.is_tensor()) return nullptr;  // sequences: no planning
  std::lock_guard<std::mutex> lock(signatures_mu);
  ++clock;
  for (auto& sig : signatures)
    if (sig->Matches(feed)) {
      sig->last_used = clock;
      return sig;
    }
  auto sig = std::make_shared<SignatureState>();
  for (const Value& v : feed) {
    SignatureState::Input in;
    in.tensor = v.is_tensor();
    if (in.tensor) {
      in.dtype = v.tensor().dtype();
      in.shape = v.tensor().shape();
    }
    sig->key.push_back(std::move(in));
  }
  sig->last_used = clock;
  if (signatures.size() >= kMaxSignatures) {
    auto oldest =
        std::min_element(signatures.begin(), signatures.end(),
                         [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    *oldest = sig;
  } else {
    signatures.push_back(sig);
  }
  return sig;
}

Status SessionImpl::Run(const std::vector<Value>& feed, std::vector<Value>& results) {
  RunSetup setup;
  setup.results = &results;
  std::shared_ptr<SignatureState> sig = Signature(feed);
  if (!sig) return RunPlan(*plan, feed, nullptr, *pool, profiler.get(), setup).status();
  using Stage = SignatureState::Stage;
  Stage stage;
  std::unique_ptr<SignatureState::Lease> lease;
  std::shared_ptr<const ShapeMemo> memo;
  {
    std::lock_guard<std::mutex> lock(sig->mu);
    stage = sig->stage;
    if (stage == Stage::kNew) {
      sig->stage = Stage::kRecording;
    } else if (stage == Stage::kReady) {
      memo = sig->memo;
      while (!sig->idle.empty() && !lease) {
        lease = std::move(sig->idle.back());
        sig->idle.pop_back();
        if (!lease->arena->Begin()) lease.reset();  // a buffer of its last run is still held
      }
    }
  }
  if (stage == Stage::kNew) {
    AllocationRecorder recorder;
    auto recorded = std::make_shared<ShapeMemo>();
    setup.allocator = &recorder;
    setup.memo_record = recorded.get();
    Status result = Status(StatusCode::kInternal, "not run");
    try {
      result = RunPlan(*plan, feed, nullptr, *pool, profiler.get(), setup).status();
    } catch (...) {
      std::lock_guard<std::mutex> lock(sig->mu);
      sig->stage = Stage::kNew;
      throw;
    }
    std::lock_guard<std::mutex> lock(sig->mu);
    if (!result.ok()) {
      sig->stage = Stage::kNew;
    } else {
      sig->layout = std::make_shared<const AllocationPlan>(recorder.Finish());
      ReleaseCachedBuffers();  // the recording's freed buffers: the arena replaces them
      sig->memo = std::move(recorded);
      sig->stage = Stage::kReady;
      if (options.verbose)
        spdlog::info("planned activations: {} buffer(s), {:.1f} MB in one block ({:.1f} MB apart)",
                     sig->layout->slots.size(), sig->layout->block_bytes / 1e6,
                     sig->layout->total_bytes / 1e6);
    }
    return result;
  }
  if (stage != Stage::kReady)
    return RunPlan(*plan, feed, nullptr, *pool, profiler.get(), setup).status();
  if (!lease) {
    std::shared_ptr<const AllocationPlan> layout;
    {
      std::lock_guard<std::mutex> lock(sig->mu);
      layout = sig->layout;
    }
    lease = std::make_unique<SignatureState::Lease>();
    lease->arena = std::make_unique<Arena>(layout);
    lease->arena->Begin();
  }
  setup.allocator = lease->arena.get();
  setup.memo_replay = memo.get();
  setup.scratch = &lease->scratch;
  bool memo_missed = false;
  Status result =
      RunPlan(*plan, feed, nullptr, *pool, profiler.get(), setup, &memo_missed).status();
  std::lock_guard<std::mutex> lock(sig->mu);
  if (lease->arena->diverged() || memo_missed) {
    // Data-dependent shapes: after a few such runs the signature stops planning.
    if (++sig->misses >= 3) {
      sig->stage = Stage::kDynamic;
      sig->idle.clear();
      if (options.verbose) spdlog::info("activation plan dropped: shapes depend on input data");
    }
  }
  if (sig->stage == Stage::kReady && sig->idle.size() < kMaxIdleArenas)
    sig->idle.push_back(std::move(lease));
  return result;
}

namespace {

void CountOps(const Graph& g, ModelInfo& info) {
  for (const auto& n : g.nodes) {
    info.op_histogram[(n.domain.empty() ? "" : n.domain + "::") + n.op_type]++;
    info.node_count++;
    for (const auto& [k, a] : n.attributes) {
      if (a.g) CountOps(*a.g, info);
      for (const auto& sg : a.graphs) CountOps(*sg, info);
    }
  }
}

StatusOr<std::unique_ptr<SessionImpl>> Build(Model model, const SessionOptions& options) {
  auto impl = std::make_unique<SessionImpl>();
  impl->model = std::move(model);
  impl->options = options;
  // The op histogram describes the model as given; parameters include Constant-node weights.
  CountOps(impl->model.graph, impl->info);
  OptLevel level = static_cast<OptLevel>(options.optimization);
  if (!options.use_fast_kernels && level > OptLevel::kBasic) level = OptLevel::kBasic;
  const NodeEvaluator evaluate = ReferenceEvaluator();
  HONE_ASSIGN_OR_RETURN(impl->passes, OptimizeModel(impl->model, level, &evaluate));
  if (options.verbose)
    for (const auto& p : impl->passes)
      if (p.rewrites) spdlog::info("graph pass {}: {} rewrite(s)", p.pass, p.rewrites);
  for (const auto& [name, t] : impl->model.graph.initializers) {
    impl->info.parameter_count += t.numel();
    impl->info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  const Graph& g = impl->model.graph;
  CompileOptions copts;
  copts.opsets = &impl->model.opsets;
  copts.fast_kernels = options.use_fast_kernels;
  copts.verbose = options.verbose;
  HONE_ASSIGN_OR_RETURN(impl->plan, CompilePlan(g, copts, {}));
  for (const auto& in : g.inputs) {
    impl->inputs.push_back(in);
    impl->input_required.push_back(!g.initializers.count(in.name));
  }
  impl->outputs = g.outputs;
  ModelInfo& info = impl->info;
  info.ir_version = impl->model.ir_version;
  info.opsets = impl->model.opsets;
  info.producer = impl->model.producer_name +
                  (impl->model.producer_version.empty() ? "" : " " + impl->model.producer_version);
  impl->pool = std::make_unique<ThreadPool>(options.threads);
  if (options.profile) impl->profiler = std::make_unique<Profiler>();
  return impl;
}

}  // namespace

Session::Session(std::unique_ptr<SessionImpl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

StatusOr<std::unique_ptr<Session>> Session::FromFile(const std::string& path,
                                                     const SessionOptions& options) {
  HONE_ASSIGN_OR_RETURN(Model m, ImportOnnxFile(path));
  auto impl = Build(std::move(m), options);
  if (!impl.ok()) return impl.status().WithContext(path);
  return std::unique_ptr<Session>(new Session(std::move(impl).value()));
}

StatusOr<std::unique_ptr<Session>> Session::FromBytes(std::span<const uint8_t> bytes,
                                                      const SessionOptions& options,
                                                      const std::string& base_dir) {
  ImportOptions iopts;
  iopts.base_dir = base_dir;
  HONE_ASSIGN_OR_RETURN(Model m, ImportOnnxModel(bytes, iopts));
  HONE_ASSIGN_OR_RETURN(auto impl, Build(std::move(m), options));
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

const std::vector<ValueInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<ValueInfo>& Session::outputs() const { return impl_->outputs; }
const ModelInfo& Session::info() const { return impl_->info; }
std::vector<NodeProfile> Session::profile() const {
  return impl_->profiler ? impl_->profiler->Snapshot() : std::vector<NodeProfile>{};
}

namespace {

Status CheckTensor(const ValueInfo& decl, const Tensor& t) {
  if (!t.defined()) return InvalidArgument("input '{}': tensor has no value", decl.name);
  if (decl.dtype != DataType::kUndefined && t.dtype() != decl.dtype)
    return InvalidArgument("input '{}': expected dtype {}, got {}", decl.name,
                           DataTypeName(decl.dtype), DataTypeName(t.dtype()));
  if (!decl.has_shape) return Status::Ok();
  if (t.rank() != static_cast<int64_t>(decl.shape.size()))
    return InvalidArgument("input '{}': expected shape {} (rank {}), got {} (rank {})", decl.name,
                           DimsToString(decl), decl.shape.size(), ShapeToString(t.shape()),
                           t.rank());
  for (size_t i = 0; i < decl.shape.size(); ++i)
    if (decl.shape[i].known() && decl.shape[i].value != t.shape()[i])
      return InvalidArgument("input '{}': expected shape {}, got {} (dimension {} differs)",
                             decl.name, DimsToString(decl), ShapeToString(t.shape()), i);
  return Status::Ok();
}

Status CheckInput(const ValueInfo& decl, const Value& v) {
  using K = ValueInfo::Kind;
  const bool optional = decl.kind == K::kOptionalTensor || decl.kind == K::kOptionalSequence;
  if (v.is_none()) {
    if (optional) return Status::Ok();
    return InvalidArgument("input '{}': an empty optional is given, the model needs a value",
                           decl.name);
  }
  if (decl.kind == K::kSequence || decl.kind == K::kOptionalSequence) {
    if (!v.is_sequence()) return InvalidArgument("input '{}': expected a sequence", decl.name);
    for (const Tensor& t : v.sequence())
      if (decl.dtype != DataType::kUndefined && t.dtype() != decl.dtype)
        return InvalidArgument("input '{}': sequence elements must be {}, got {}", decl.name,
                               DataTypeName(decl.dtype), DataTypeName(t.dtype()));
    return Status::Ok();
  }
  if (!v.is_tensor()) return InvalidArgument("input '{}': expected a tensor", decl.name);
  return CheckTensor(decl, v.tensor());
}

}  // namespace

namespace {

const Value& ValueOf(const NamedValue& nv) { return nv.value; }
Value ValueOf(const NamedTensor& nt) { return Value(nt.tensor); }

// The feed and results of a Session::Run, kept per thread between runs so that a steady run does
// not allocate them; emptied after each run (they hold no tensors between runs).
struct CallScratch {
  std::vector<Value> feed, results;
};

// Validates the named inputs into input order, runs, and passes each wanted output (in the
// order asked, all of them when `output_names` is empty) to emit(name, value).
template <typename Named, typename Emit>
Status RunNamed(SessionImpl& s, const std::vector<Named>& inputs,
                const std::vector<std::string>& output_names, Emit&& emit) {
  thread_local CallScratch tls;
  thread_local bool tls_busy = false;  // (a nested call on this thread gets its own)
  CallScratch local;
  const bool take = !tls_busy;
  CallScratch& c = take ? tls : local;
  struct Release {
    CallScratch& c;
    bool took;
    ~Release() {
      c.feed.clear();
      c.results.clear();
      if (took) tls_busy = false;
    }
  } release{c, take};
  tls_busy = true;
  c.feed.resize(s.inputs.size());
  for (const auto& nv : inputs) {
    size_t k = 0;
    while (k < s.inputs.size() && s.inputs[k].name != nv.name) ++k;
    if (k == s.inputs.size()) {
      std::string names;
      for (const auto& in : s.inputs) names += (names.empty() ? "" : ", ") + in.name;
      return InvalidArgument("unknown input '{}'; the model's inputs are: {}", nv.name, names);
    }
    if (c.feed[k].is_set()) return InvalidArgument("input '{}' is given twice", nv.name);
    c.feed[k] = ValueOf(nv);
    HONE_RETURN_IF_ERROR(CheckInput(s.inputs[k], c.feed[k]));
  }
  for (size_t k = 0; k < s.inputs.size(); ++k)
    if (s.input_required[k] && !c.feed[k].is_set())
      return InvalidArgument("missing input '{}' ({} {})", s.inputs[k].name,
                             DataTypeName(s.inputs[k].dtype), DimsToString(s.inputs[k]));
  auto output_index = [&](const std::string& name) {
    size_t k = 0;
    while (k < s.outputs.size() && s.outputs[k].name != name) ++k;
    return k;
  };
  for (const auto& name : output_names)
    if (output_index(name) == s.outputs.size()) return InvalidArgument("unknown output '{}'", name);
  try {
    HONE_RETURN_IF_ERROR(s.Run(c.feed, c.results));
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "out of memory while running the model");
  }
  if (output_names.empty()) {
    for (size_t k = 0; k < s.outputs.size(); ++k)
      HONE_RETURN_IF_ERROR(emit(s.outputs[k].name, c.results[k]));
  } else {
    for (const auto& name : output_names) {
      const size_t k = output_index(name);
      HONE_RETURN_IF_ERROR(emit(s.outputs[k].name, c.results[k]));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<NamedValue>> Session::RunValues(
    const std::vector<NamedValue>& inputs, const std::vector<std::string>& output_names) const {
  std::vector<NamedValue> out;
  out.reserve(output_names.empty() ? impl_->outputs.size() : output_names.size());
  HONE_RETURN_IF_ERROR(
      RunNamed(*impl_, inputs, output_names, [&](const std::string& name, const Value& v) {
        out.push_back({name, v});
        return Status::Ok();
      }));
  return out;
}

StatusOr<std::vector<NamedTensor>> Session::Run(
    const std::vector<NamedTensor>& inputs, const std::vector<std::string>& output_names) const {
  std::vector<NamedTensor> out;
  out.reserve(output_names.empty() ? impl_->outputs.size() : output_names.size());
  HONE_RETURN_IF_ERROR(
      RunNamed(*impl_, inputs, output_names, [&](const std::string& name, const Value& v) {
        if (!v.is_tensor())
          return InvalidArgument("output '{}' is a sequence or optional; use Session::RunValues",
                                 name);
        out.push_back({name, v.tensor()});
        return Status::Ok();
      }));
  return out;
}

}  // namespace hone
