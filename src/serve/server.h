// hone serve: the model repository served over KServe v2 REST (cpp-httplib) and gRPC
// (serve/grpc_frontend.h), with Prometheus metrics (serve/metrics.h). Loads every model's
// served versions at start (model control "none"), one ModelRunner per version, and answers
// health, metadata, repository and inference requests; REST errors as {"error": "..."} with the
// protocol's status codes (400 bad request, 404 unknown model, 413 body too large, 503
// unavailable, 504 timed out), gRPC errors with the matching status codes.
//
// The frontends share one core (Infer, Metadata, Ready, Index, Load, Unload, Allowed): each
// only translates its wire format.
//
//   ServerOptions o;
//   o.repository = "models";
//   auto server = Server::Create(o);     // scans and loads; bad models are reported, skipped
//   (*server)->Start();                  // listens on o.http_port in a background thread
//   ...
//   (*server)->Stop();                   // stops listening, drains the queues
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hone/status.h"
#include "serve/metrics.h"
#include "serve/model_runner.h"
#include "serve/protocol.h"
#include "serve/repository.h"
#include "serve/response_cache.h"

namespace httplib {
class Server;
}

namespace hone::serve {

class GrpcFrontend;

struct ServerOptions {
  std::string repository;
  std::string host = "0.0.0.0";
  int http_port = 8000;     // 0: any free port (see port())
  int grpc_port = 8001;     // KServe v2 gRPC; 0: any free port; -1: none
  int metrics_port = 8002;  // GET /metrics (also on the HTTP port); 0: any free; -1: none
  int threads = 0;          // intra-op threads per model; 0: one per core
  // REST connections served at once (a thread each while a keep-alive connection is open;
  // more wait to be accepted).
  int http_threads = 128;
  // gRPC call threads kept between calls: more serve concurrent load without starting threads,
  // fewer answer a lone client sooner.
  int grpc_threads = 128;
  int64_t max_request_bytes = int64_t{64} << 20;
  int64_t cache_bytes = int64_t{256} << 20;  // response cache (models that enable it)
  // Non-empty: requests must carry "Authorization: Bearer <api_key>" -- the repository
  // endpoints always, inference too unless open_inference; health, metadata and metrics stay
  // open. A missing or wrong key gets 401.
  std::string api_key;
  bool open_inference = false;
  // none: every model loads at start; explicit: models load and unload through the repository
  // API (POST /v2/repository/models/{m}/load, /unload); on-demand: a model loads on its first
  // request, and when the loaded models' files exceed memory_budget bytes the least recently
  // used idle ones (no request queued or running) are unloaded.
  // Both set: HTTPS on the HTTP port and TLS on the gRPC port (PEM files); the metrics port
  // stays plain HTTP.
  std::string tls_cert, tls_key;
  std::string model_control = "none";
  int64_t memory_budget = 0;  // bytes; 0: no limit
};

class Server {
 public:
  static StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options);
  ~Server();

  // Binds and serves in a background thread; fails when the port cannot be bound.
  Status Start();
  // Stops accepting, finishes the requests in flight, drains the model queues.
  void Stop();
  int port() const { return port_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  // The Prometheus text of /metrics.
  std::string MetricsText() const;
  // Problems met while loading (a model each); the other models serve.
  std::vector<std::string> load_errors() const;
  std::vector<std::string> model_names() const;  // loaded ones
  // The repository API (explicit and on-demand modes): load (or reload) and unload a model.
  // Requests in flight keep the version they started on until they finish.
  Status Load(const std::string& name);
  Status Unload(const std::string& name);
  int64_t loads() const { return loads_.load(); }

  // --- the frontends' common core ---
  // One inference: finds `name` at `version` ("" = the latest; loading it first in on-demand
  // mode), has `parse` fill `request` (parse errors count as the model's failures), answers
  // from the response cache or the model's queue, and counts success or failure and the
  // request's time. `request.inputs` is consumed.
  struct Answer {
    std::string model;
    int64_t version = 0;
    CachedOutputs outputs;
  };
  using Parse = std::function<Status(InferRequest&)>;
  StatusOr<Answer> Infer(const std::string& name, const std::string& version, InferRequest& request,
                         const Parse& parse);
  struct ModelInfo {
    ModelSpec spec;
    std::vector<int64_t> versions;  // loaded ones, ascending
  };
  StatusOr<ModelInfo> Metadata(const std::string& name, const std::string& version);
  // Ok when `name` at `version` is loaded (no on-demand load).
  Status Ready(const std::string& name, const std::string& version);
  struct IndexItem {
    std::string name, version, state, reason;
  };
  // Every model of the repository (each loaded version READY, the others UNAVAILABLE) and every
  // model that does not scan (no name; the reason).
  std::vector<IndexItem> Index() const;
  // Whether a request may go on, given its Authorization header ("Bearer <key>"): open
  // endpoints always; with --api-key, the repository ones and (unless open_inference)
  // inference only with the key.
  enum class Access { kOpen, kInfer, kRepository };
  bool Allowed(Access access, std::string_view authorization) const;
  const ResponseCache& cache() const { return cache_; }

 private:
  struct Model {
    ModelEntry entry;
    // Shared with the requests using a version: an unloaded version lives until they finish.
    std::map<int64_t, std::shared_ptr<ModelRunner>> versions;
    int64_t bytes = 0;  // its model files (the memory budget's measure)
    int64_t last_used_us = 0;
  };
  explicit Server(ServerOptions options);
  void Routes();
  // The runner for `name` and `version` ("" = the latest), loading the model first in
  // on-demand mode when `load` is set; or the error to answer.
  StatusOr<std::shared_ptr<ModelRunner>> Find(const std::string& name, const std::string& version,
                                              bool load);
  // Loads `name` unless `only_if_missing` and it is loaded; then applies the memory budget.
  Status LoadModel(const std::string& name, bool only_if_missing);

  ServerOptions options_;
  mutable std::mutex mu_;  // guards models_ and load_errors_
  std::map<std::string, Model> models_;
  std::vector<std::string> load_errors_;
  std::mutex load_mu_;  // one load at a time: concurrent first requests wait for one load
  std::atomic<int64_t> loads_{0};
  ResponseCache cache_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_, metrics_http_;
  std::thread listener_, metrics_listener_;
  std::unique_ptr<GrpcFrontend> grpc_;
  int port_ = 0, metrics_port_ = -1, grpc_port_ = -1;
};

// Status code -> HTTP status (one table for the REST frontend).
int HttpStatus(StatusCode code);

}  // namespace hone::serve
