#include "serve/server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <cstdlib>

#include "core/errors.h"
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
  std::unique_ptr<Server> s(new Server(options));
  RepositoryScan scan = ScanRepository(options.repository);
  s->load_errors_ = scan.errors;
  for (ModelEntry& e : scan.models) {
    Model m;
    bool ok = true;
    for (int64_t v : e.versions) {
      auto r = ModelRunner::Load(e, v, options.threads);
      if (!r.ok()) {
        s->load_errors_.push_back(
            fmt::format("model '{}' version {}: {}", e.name, v, r.status().message()));
        ok = false;
        break;
      }
      (*r)->set_metrics(&s->metrics_.For(e.name, v));
      m.versions[v] = std::move(*r);
    }
    if (!ok) continue;
    m.entry = std::move(e);
    s->models_[m.entry.name] = std::move(m);
  }
  if (s->models_.empty() && !scan.errors.empty() && scan.models.empty())
    return InvalidArgument("no model of {} loads: {}", options.repository, scan.errors[0]);
  s->http_ = std::make_unique<httplib::Server>();
  s->Routes();
  return s;
}

std::vector<std::string> Server::model_names() const {
  std::vector<std::string> out;
  for (const auto& [n, m] : models_) out.push_back(n);
  return out;
}

StatusOr<ModelRunner*> Server::Find(const std::string& name, const std::string& version) {
  auto it = models_.find(name);
  if (it == models_.end()) return NotFound("unknown model '{}'", name);
  auto& versions = it->second.versions;
  if (version.empty()) return versions.rbegin()->second.get();
  const int64_t v = std::stoll(version);
  auto vit = versions.find(v);
  if (vit == versions.end()) return NotFound("model '{}' has no version {} loaded", name, v);
  return vit->second.get();
}

namespace {

// Equal strings, in time that does not depend on where they differ.
bool SameKey(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

void Server::Routes() {
  httplib::Server& h = *http_;
  h.set_payload_max_length(static_cast<size_t>(options_.max_request_bytes));
  if (!options_.api_key.empty()) {
    h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const bool repository = req.path.rfind("/v2/repository", 0) == 0;
      const bool infer = req.method == "POST" && req.path.size() >= 6 &&
                         req.path.compare(req.path.size() - 6, 6, "/infer") == 0;
      if (!repository && !(infer && !options_.open_inference))
        return httplib::Server::HandlerResponse::Unhandled;
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      if (auth.rfind(prefix, 0) == 0 && SameKey(auth.substr(prefix.size()), options_.api_key))
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
    auto r = Find(req.matches[1], req.matches[2]);
    if (!r.ok()) return ReplyError(res, r.status());
    const Model& m = models_.at(req.matches[1]);
    std::vector<int64_t> versions;
    for (const auto& [v, runner] : m.versions) versions.push_back(v);
    Reply(res, 200, ModelMetadataJson((*r)->spec(), versions));
  });
  h.Get(model + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    auto r = Find(req.matches[1], req.matches[2]);
    if (!r.ok()) return ReplyError(res, r.status());
    Reply(res, 200, "{\"ready\":true}");
  });
  h.Post(model + "/infer", [this](const httplib::Request& req, httplib::Response& res) {
    const int64_t start = NowUs();
    auto runner = Find(req.matches[1], req.matches[2]);
    if (!runner.ok()) return ReplyError(res, runner.status());
    ModelRunner& r = **runner;
    ModelMetrics& m = metrics_.For(r.spec().name, r.version());
    auto done = [&](const Status& s) {
      (s.ok() ? m.success : m.failure).fetch_add(1);
      m.request_us.Observe(static_cast<double>(NowUs() - start));
      if (!s.ok()) ReplyError(res, s);
    };
    // Triton's binary tensor extension: the JSON header's length in a request header.
    int64_t json_bytes = -1;
    if (req.has_header("Inference-Header-Content-Length")) {
      const std::string v = req.get_header_value("Inference-Header-Content-Length");
      char* end = nullptr;
      json_bytes = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || json_bytes < 0)
        return done(InvalidArgument("Inference-Header-Content-Length '{}' is not a size", v));
    }
    auto parsed = ParseInferRequest(req.body, json_bytes);
    if (!parsed.ok()) return done(parsed.status());
    auto answer = [&](const std::vector<NamedTensor>& outputs) {
      InferResponse resp = MakeInferResponse(r.spec().name, r.version(), *parsed, outputs);
      if (resp.json_bytes >= 0) {
        res.status = 200;
        res.set_header("Inference-Header-Content-Length", std::to_string(resp.json_bytes));
        res.set_content(std::move(resp.body), "application/octet-stream");
      } else {
        Reply(res, 200, resp.body);
      }
    };
    CacheKey key;
    if (r.spec().response_cache) {
      key = MakeCacheKey(r.spec().name, r.version(), parsed->inputs);
      if (CachedOutputs hit = cache_.Find(key)) {
        answer(*hit);
        return done(Status::Ok());
      }
    }
    InferResult out = r.Submit(parsed->inputs, parsed->outputs, 0).get();
    if (!out.ok()) return done(out.status());
    answer(*out);
    if (r.spec().response_cache) cache_.Insert(key, std::move(*out));
    done(Status::Ok());
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
  return Status::Ok();
}

std::string Server::MetricsText() const {
  return metrics_.Render([this](std::string& out) {
    out += "# HELP hone_pending_requests Requests waiting in a model's queue\n";
    out += "# TYPE hone_pending_requests gauge\n";
    size_t loaded = 0;
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
  });
}

void Server::Stop() {
  if (http_ && http_->is_running()) http_->stop();
  if (listener_.joinable()) listener_.join();
  if (metrics_http_ && metrics_http_->is_running()) metrics_http_->stop();
  if (metrics_listener_.joinable()) metrics_listener_.join();
  models_.clear();  // each runner drains its queue and joins its workers
}

}  // namespace hone::serve
