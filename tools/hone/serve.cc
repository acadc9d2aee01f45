// hone serve --model-repository DIR: KServe v2 REST and gRPC over a Triton-layout repository
// (src/serve/server.h). Stops cleanly on SIGINT / SIGTERM: no new connections, the requests in
// flight finish, exit 0.
#include <fmt/format.h>

#include <condition_variable>
#include <csignal>
#include <mutex>

#include "cli.h"
#include "serve/server.h"

namespace hone::cli {
namespace {

std::mutex g_mu;
std::condition_variable g_cv;
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

}  // namespace

Runner SetupServe(CLI::App& app) {
  auto o = std::make_shared<serve::ServerOptions>();
  app.add_option("--model-repository", o->repository,
                 "the model repository: <dir>/<model>/<version>/model.onnx, optional "
                 "<dir>/<model>/config.pbtxt (Triton's fields)")
      ->required();
  app.add_option("--http-port", o->http_port, "REST port (0: any free one)")->capture_default_str();
  app.add_option("--grpc-port", o->grpc_port,
                 "KServe v2 gRPC port (inference.GRPCInferenceService; 0: any free one; -1: none)")
      ->capture_default_str();
  app.add_option("--metrics-port", o->metrics_port,
                 "Prometheus /metrics port (0: any free one; -1: none; /metrics is also on the "
                 "HTTP port)")
      ->capture_default_str();
  app.add_option("--host", o->host, "address to listen on")->capture_default_str();
  app.add_option("--model-control", o->model_control,
                 "none (load every model at start), explicit (load / unload through POST "
                 "/v2/repository/models/{m}/load|unload) or on-demand (a model loads on its first "
                 "request; --memory-budget evicts the least recently used idle ones)")
      ->capture_default_str();
  app.add_option("--memory-budget", o->memory_budget,
                 "on-demand / explicit: bytes of loaded model files to keep at most (0: no limit)")
      ->capture_default_str();
  app.add_option("--tls-cert", o->tls_cert,
                 "serve HTTPS and gRPC over TLS with this PEM certificate (and --tls-key)");
  app.add_option("--tls-key", o->tls_key, "the PEM private key of --tls-cert");
  app.add_option("--api-key", o->api_key,
                 "require \"Authorization: Bearer KEY\" on the repository endpoints and "
                 "inference (health, metadata and metrics stay open)");
  app.add_flag("--open-inference", o->open_inference,
               "with --api-key: inference without the key (only the repository needs it)");
  app.add_option("--threads", o->threads, "intra-op threads per model (0: one per core)")
      ->capture_default_str();
  app.add_option("--http-threads", o->http_threads,
                 "REST connections served at once (one thread each while open)")
      ->capture_default_str();
  app.add_option("--grpc-threads", o->grpc_threads,
                 "gRPC call threads kept between calls (many: concurrent load without starting "
                 "threads; 2: lowest latency for a lone client)")
      ->capture_default_str();
  app.add_option("--max-request-bytes", o->max_request_bytes,
                 "larger request bodies are refused with 413")
      ->capture_default_str();
  app.add_option("--cache-bytes", o->cache_bytes,
                 "response cache size, for models with response_cache { enable: true }")
      ->capture_default_str();
  return [o]() -> int {
    auto server = serve::Server::Create(*o);
    if (!server.ok()) return Fail(server.status());
    for (const std::string& e : (*server)->load_errors()) fmt::print(stderr, "hone serve: {}\n", e);
    if (Status s = (*server)->Start(); !s.ok()) return Fail(s);
    fmt::print(stderr, "hone serve: {} model(s) ({}) on http://{}:{}/v2",
               (*server)->model_names().size(), fmt::join((*server)->model_names(), ", "), o->host,
               (*server)->port());
    if ((*server)->grpc_port() >= 0)
      fmt::print(stderr, " and grpc://{}:{}", o->host, (*server)->grpc_port());
    fmt::print(stderr, "\n");
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    while (!g_stop) {
      std::unique_lock<std::mutex> lock(g_mu);
      g_cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    fmt::print(stderr, "hone serve: stopping (finishing the requests in flight)\n");
    (*server)->Stop();
    return 0;
  };
}

}  // namespace hone::cli
