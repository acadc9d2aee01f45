#include "serve/server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "core/errors.h"
#include "core/json.h"
#include "serve/grpc_frontend.h"
#include "serve/protocol.h"

namespace hone::serve {

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kInvalidModel:
    case StatusCode::kNotSupported:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
    case StatusCode::kOutOfMemory:
    case StatusCode::kCancelled:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

void Reply(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_content(json, "application/json");
}

void ReplyError(httplib::Response& res, const Status& s) {
  Reply(res, HttpStatus(s.code()), ErrorJson(s.message()));
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)), cache_(options_.cache_bytes) {}

Server::~Server() { Stop(); }

StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options) {
  const std::string& mode = options.model_control;
  if (mode != "none" && mode != "explicit" && mode != "on-demand")
    return InvalidArgument("--model-control must be none, explicit or on-demand, got '{}'", mode);
  if (options.memory_budget < 0)
    return InvalidArgument("--memory-budget must be >= 0, got {}", options.memory_budget);
  std::unique_ptr<Server> s(new Server(options));
  std::error_code ec;
  if (!std::filesystem::is_directory(options.repository, ec))
    return InvalidArgument("model repository {} is not a directory", options.repository);
  RepositoryScan scan = ScanRepository(options.repository);
  s->load_errors_ = scan.errors;
  if (mode == "none") {
    for (const ModelEntry& e : scan.models)
      if (Status st = s->LoadModel(e.name, false); !st.ok())
        s->load_errors_.push_back(st.message());
    if (s->models_.empty() && !scan.errors.empty())
      return InvalidArgument("no model of {} loads: {}", options.repository, scan.errors[0]);
  }
  if (options.tls_cert.empty() != options.tls_key.empty())
    return InvalidArgument("TLS needs both --tls-cert and --tls-key");
  if (!options.tls_cert.empty()) {
    auto tls =
        std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!tls->is_valid())
      return InvalidArgument("cannot use the TLS certificate {} with the key {} (PEM files?)",
                             options.tls_cert, options.tls_key);
    s->http_ = std::move(tls);
  } else {
    s->http_ = std::make_unique<httplib::Server>();
  }
  s->Routes();
  return s;
}

std::vector<std::string> Server::load_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return load_errors_;
}

std::vector<std::string> Server::model_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, m] : models_) out.push_back(n);
  return out;
}

Status Server::LoadModel(const std::string& name, bool only_if_missing) {
  std::lock_guard<std::mutex> serial(load_mu_);
  if (only_if_missing) {
    std::lock_guard<std::mutex> lock(mu_);
    if (models_.count(name)) return Status::Ok();
  }
  HONE_ASSIGN_OR_RETURN(ModelEntry e, ScanModel(options_.repository, name));
  Model m;
  for (int64_t v : e.versions) {
    auto r = ModelRunner::Load(e, v, options_.threads);
    if (!r.ok())
      return Status(r.status().code(),
                    fmt::format("model '{}' version {}: {}", name, v, r.status().message()));
    (*r)->set_metrics(&metrics_.For(e.name, v));
    m.versions[v] = std::shared_ptr<ModelRunner>(std::move(*r));
    std::error_code ec;
    m.bytes += static_cast<int64_t>(std::filesystem::file_size(e.ModelPath(v), ec));
  }
  m.entry = std::move(e);
  m.last_used_us = NowUs();
  loads_.fetch_add(1);
  std::vector<Model> evicted;  // destroyed outside the lock (runners drain and join)
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto old = models_.find(name);
    if (old != models_.end()) evicted.push_back(std::move(old->second));
    models_[name] = std::move(m);
    // The memory budget: unload the least recently used idle models until the rest fit.
    for (;;) {
      int64_t total = 0;
      for (const auto& [n, x] : models_) total += x.bytes;
      if (options_.memory_budget <= 0 || total <= options_.memory_budget) break;
      auto victim = models_.end();
      for (auto it = models_.begin(); it != models_.end(); ++it) {
        if (it->first == name) continue;
        bool idle = true;
        for (const auto& [v, r] : it->second.versions)
          idle = idle && r.use_count() == 1 && r->pending() == 0;
        if (idle &&
            (victim == models_.end() || it->second.last_used_us < victim->second.last_used_us))
          victim = it;
      }
      if (victim == models_.end()) break;  // every other model is busy: over budget for now
      evicted.push_back(std::move(victim->second));
      models_.erase(victim);
    }
  }
  return Status::Ok();
}

namespace {

// The repository API's guard: load and unload need a model-control mode that allows them.
Status ModelControlAllows(const std::string& mode) {
  if (mode == "none")
    return InvalidArgument(
        "model control is 'none': start hone serve with --model-control explicit or on-demand "
        "to load and unload models");
  return Status::Ok();
}

}  // namespace

Status Server::Load(const std::string& name) {
  HONE_RETURN_IF_ERROR(ModelControlAllows(options_.model_control));
  return LoadModel(name, false);
}

Status Server::Unload(const std::string& name) {
  HONE_RETURN_IF_ERROR(ModelControlAllows(options_.model_control));
  Model gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return NotFound("model '{}' is not loaded", name);
    gone = std::move(it->second);
    models_.erase(it);
  }
  return Status::Ok();  // `gone` drains here; requests in flight hold their runner
}

StatusOr<std::shared_ptr<ModelRunner>> Server::Find(const std::string& name,
                                                    const std::string& version, bool load) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = models_.find(name);
      if (it != models_.end()) {
        auto& versions = it->second.versions;
        it->second.last_used_us = NowUs();
        if (version.empty()) return versions.rbegin()->second;
        const bool digits =
            version.size() <= 18 && version.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) return InvalidArgument("model version '{}' is not a number", version);
        const int64_t v = std::stoll(version);
        auto vit = versions.find(v);
        if (vit == versions.end()) return NotFound("model '{}' has no version {} loaded", name, v);
        return vit->second;
      }
    }
    std::error_code ec;
    const bool in_repository =
        std::filesystem::is_directory(std::filesystem::path(options_.repository) / name, ec);
    if (!in_repository) return NotFound("unknown model '{}'", name);
    if (!load || options_.model_control != "on-demand" || attempt > 0)
      return Status(StatusCode::kUnavailable, fmt::format("model '{}' is not loaded (load it: POST "
                                                          "/v2/repository/models/{}/load)",
                                                          name, name));
    HONE_RETURN_IF_ERROR(LoadModel(name, true));
  }
  return Status(StatusCode::kUnavailable, fmt::format("model '{}' is not loaded", name));
}

std::vector<Server::IndexItem> Server::Index() const {
  RepositoryScan scan = ScanRepository(options_.repository);
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<IndexItem> items;
  for (const ModelEntry& e : scan.models) {
    auto it = models_.find(e.name);
    if (it == models_.end()) {
      items.push_back({e.name, "", "UNAVAILABLE", "unloaded"});
      continue;
    }
    for (const auto& [v, r] : it->second.versions)
      items.push_back({e.name, std::to_string(v), "READY", ""});
  }
  for (const std::string& err : scan.errors) items.push_back({"", "", "UNAVAILABLE", err});
  return items;
}

StatusOr<Server::ModelInfo> Server::Metadata(const std::string& name, const std::string& version) {
  HONE_ASSIGN_OR_RETURN(std::shared_ptr<ModelRunner> r, Find(name, version, /*load=*/true));
  ModelInfo info{r->spec(), {}};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it != models_.end())
    for (const auto& [v, runner] : it->second.versions) info.versions.push_back(v);
  return info;
}

Status Server::Ready(const std::string& name, const std::string& version) {
  return Find(name, version, /*load=*/false).status();
}

StatusOr<Server::Answer> Server::Infer(const std::string& name, const std::string& version,
                                       InferRequest& request, const Parse& parse) {
  const int64_t start = NowUs();
  HONE_ASSIGN_OR_RETURN(std::shared_ptr<ModelRunner> runner, Find(name, version, /*load=*/true));
  ModelRunner& r = *runner;  // held until the answer is made
  ModelMetrics& m = metrics_.For(r.spec().name, r.version());
  auto count = [&](bool ok) {
    (ok ? m.success : m.failure).fetch_add(1);
    m.request_us.Observe(static_cast<double>(NowUs() - start));
  };
  if (Status s = parse(request); !s.ok()) {
    count(false);
    return s;
  }
  Answer answer{r.spec().name, r.version(), nullptr};
  CacheKey key;
  if (r.spec().response_cache) {
    key = MakeCacheKey(r.spec().name, r.version(), request.inputs);
    if ((answer.outputs = cache_.Find(key))) {
      count(true);
      return answer;
    }
  }
  InferResult out = r.Submit(std::move(request.inputs), request.outputs, 0).get();
  if (!out.ok()) {
    count(false);
    return out.status();
  }
  answer.outputs = std::make_shared<const std::vector<NamedTensor>>(std::move(*out));
  if (r.spec().response_cache) cache_.Insert(key, answer.outputs);
  count(true);
  return answer;
}

namespace {

// Equal strings, in time that does not depend on where they differ.
bool SameKey(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

bool Server::Allowed(Access access, std::string_view authorization) const {
  if (options_.api_key.empty() || access == Access::kOpen) return true;
  if (access == Access::kInfer && options_.open_inference) return true;
  const std::string_view prefix = "Bearer ";
  return authorization.substr(0, prefix.size()) == prefix &&
         SameKey(authorization.substr(prefix.size()), options_.api_key);
}

void Server::Routes() {
  httplib::Server& h = *http_;
  h.set_payload_max_length(static_cast<size_t>(options_.max_request_bytes));
  // Small answers go out at once (with Nagle, a split write waits for the client's delayed ACK:
  // 40 ms a request).
  h.set_tcp_nodelay(true);
  // A thread per open connection (cpp-httplib's model), and connections kept open for as many
  // requests as the client sends (the library's default closes one after 5).
  const size_t pool = static_cast<size_t>(std::max(1, options_.http_threads));
  h.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  h.set_keep_alive_max_count(std::numeric_limits<size_t>::max());
  if (!options_.api_key.empty()) {
    h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const bool infer = req.method == "POST" && req.path.size() >= 6 &&
                         req.path.compare(req.path.size() - 6, 6, "/infer") == 0;
      const Access access = req.path.rfind("/v2/repository", 0) == 0 ? Access::kRepository
                            : infer                                  ? Access::kInfer
                                                                     : Access::kOpen;
      if (Allowed(access, req.get_header_value("Authorization")))
        return httplib::Server::HandlerResponse::Unhandled;
      Reply(res, 401, ErrorJson("this endpoint needs the API key: Authorization: Bearer <key>"));
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  h.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, "{\"live\":true}");
  });
  h.Get("/v2/health/ready", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, "{\"ready\":true}");
  });
  h.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, R"({"name":"hone","version":"0.1","extensions":[]})");
  });
  const std::string model = R"(/v2/models/([^/]+)(?:/versions/([0-9]{1,18}))?)";
  h.Get(model, [this](const httplib::Request& req, httplib::Response& res) {
    auto info = Metadata(req.matches[1], req.matches[2]);
    if (!info.ok()) return ReplyError(res, info.status());
    Reply(res, 200, ModelMetadataJson(info->spec, info->versions));
  });
  h.Get(model + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    if (Status s = Ready(req.matches[1], req.matches[2]); !s.ok()) return ReplyError(res, s);
    Reply(res, 200, "{\"ready\":true}");
  });
  h.Post(model + "/infer", [this](const httplib::Request& req, httplib::Response& res) {
    InferRequest request;
    auto parse = [&](InferRequest& out) -> Status {
      // Triton's binary tensor extension: the JSON header's length in a request header.
      int64_t json_bytes = -1;
      if (req.has_header("Inference-Header-Content-Length")) {
        const std::string v = req.get_header_value("Inference-Header-Content-Length");
        char* end = nullptr;
        json_bytes = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || json_bytes < 0)
          return InvalidArgument("Inference-Header-Content-Length '{}' is not a size", v);
      }
      HONE_ASSIGN_OR_RETURN(out, ParseInferRequest(req.body, json_bytes));
      return Status::Ok();
    };
    auto answer = Infer(req.matches[1], req.matches[2], request, parse);
    if (!answer.ok()) return ReplyError(res, answer.status());
    InferResponse resp =
        MakeInferResponse(answer->model, answer->version, request, *answer->outputs);
    if (resp.json_bytes >= 0) {
      res.status = 200;
      res.set_header("Inference-Header-Content-Length", std::to_string(resp.json_bytes));
      res.set_content(std::move(resp.body), "application/octet-stream");
    } else {
      Reply(res, 200, resp.body);
    }
  });
  h.Post("/v2/repository/index", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::string> items;
    for (const IndexItem& i : Index()) {
      std::string item = "{";
      if (!i.name.empty()) item += "\"name\":" + JsonString(i.name) + ",";
      if (!i.version.empty()) item += "\"version\":" + JsonString(i.version) + ",";
      item += "\"state\":" + JsonString(i.state);
      if (!i.reason.empty()) item += ",\"reason\":" + JsonString(i.reason);
      items.push_back(item + "}");
    }
    Reply(res, 200, fmt::format("[{}]", fmt::join(items, ",")));
  });
  h.Post(R"(/v2/repository/models/([^/]+)/load)",
         [this](const httplib::Request& req, httplib::Response& res) {
           if (Status s = Load(req.matches[1]); !s.ok()) return ReplyError(res, s);
           Reply(res, 200, "{}");
         });
  h.Post(R"(/v2/repository/models/([^/]+)/unload)",
         [this](const httplib::Request& req, httplib::Response& res) {
           if (Status s = Unload(req.matches[1]); !s.ok()) return ReplyError(res, s);
           Reply(res, 200, "{}");
         });
  auto metrics = [this](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(MetricsText(), "text/plain; version=0.0.4");
  };
  h.Get("/metrics", metrics);
  if (options_.metrics_port >= 0) {
    metrics_http_ = std::make_unique<httplib::Server>();
    metrics_http_->Get("/metrics", metrics);
  }
  h.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      Reply(res, 413, ErrorJson("the request body is larger than --max-request-bytes"));
    else if (res.status == 404)
      Reply(res, 404, ErrorJson("no such endpoint: " + req.method + " " + req.path));
    else
      Reply(res, res.status, ErrorJson(fmt::format("HTTP {}", res.status)));
  });
}

Status Server::Start() {
  if (options_.http_port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ < 0) return InvalidArgument("cannot bind {} to a free port", options_.host);
  } else {
    if (!http_->bind_to_port(options_.host, options_.http_port))
      return InvalidArgument("cannot bind {}:{} (in use?)", options_.host, options_.http_port);
    port_ = options_.http_port;
  }
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  if (metrics_http_) {
    if (options_.metrics_port == 0) {
      metrics_port_ = metrics_http_->bind_to_any_port(options_.host);
    } else if (metrics_http_->bind_to_port(options_.host, options_.metrics_port)) {
      metrics_port_ = options_.metrics_port;
    } else {
      metrics_port_ = -1;
    }
    if (metrics_port_ < 0)
      return InvalidArgument("cannot bind the metrics port {}:{} (in use?)", options_.host,
                             options_.metrics_port);
    metrics_listener_ = std::thread([this] { metrics_http_->listen_after_bind(); });
  }
  if (options_.grpc_port >= 0) {
    HONE_ASSIGN_OR_RETURN(grpc_, GrpcFrontend::Start(*this, options_));
    grpc_port_ = grpc_->port();
  }
  return Status::Ok();
}

std::string Server::MetricsText() const {
  return metrics_.Render([this](std::string& out) {
    out += "# HELP hone_pending_requests Requests waiting in a model's queue\n";
    out += "# TYPE hone_pending_requests gauge\n";
    size_t loaded = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, m] : models_)
      for (const auto& [v, runner] : m.versions) {
        out += fmt::format("hone_pending_requests{{model=\"{}\",version=\"{}\"}} {}\n", name, v,
                           runner->pending());
        ++loaded;
      }
    out += "# HELP hone_cache_hits_total Responses answered from the response cache\n";
    out += "# TYPE hone_cache_hits_total counter\n";
    out += fmt::format("hone_cache_hits_total {}\n", cache_.hits());
    out += "# HELP hone_cache_misses_total Response cache lookups that missed\n";
    out += "# TYPE hone_cache_misses_total counter\n";
    out += fmt::format("hone_cache_misses_total {}\n", cache_.misses());
    out += "# HELP hone_models_loaded Model versions loaded\n";
    out += "# TYPE hone_models_loaded gauge\n";
    out += fmt::format("hone_models_loaded {}\n", loaded);
    out +=
        "# HELP hone_model_loads_total Model loads (at start, by the repository API or on "
        "demand)\n";
    out += "# TYPE hone_model_loads_total counter\n";
    out += fmt::format("hone_model_loads_total {}\n", loads_.load());
  });
}

void Server::Stop() {
  if (grpc_) grpc_->Stop();
  if (http_ && http_->is_running()) http_->stop();
  if (listener_.joinable()) listener_.join();
  if (metrics_http_ && metrics_http_->is_running()) metrics_http_->stop();
  if (metrics_listener_.joinable()) metrics_listener_.join();
  std::map<std::string, Model> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gone.swap(models_);
  }
  gone.clear();  // each runner drains its queue and joins its workers
}

}  // namespace hone::serve
