// hone_loadgen: a closed-loop load generator for KServe v2 servers (hone serve, Triton), over
// HTTP/JSON, HTTP with Triton's binary tensor extension, or gRPC. `--concurrency C` workers
// each keep one request in flight on their own connection for `--seconds`; latencies after
// `--warmup` seconds count. Prints one JSON line: requests, errors, throughput and latency
// percentiles (microseconds). `--in-process MODEL.onnx` instead times Session::Run on the same
// inputs (the baseline that server overhead is measured against).
//
//   hone_loadgen --model digits --http-port 8000 --protocol json --concurrency 16 --seconds 10
//   hone_loadgen --model enc --grpc-port 8001 --protocol grpc --shape input_ids=1x128
//   hone_loadgen --in-process examples/digits_mlp.onnx --seconds 5
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hone/hone.h"
#include "serve/grpc_service.grpc.pb.h"
#include "serve/protocol.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Input {
  std::string name, datatype;  // KServe datatype: FP32, INT64, ...
  std::vector<int64_t> dims;   // concrete
  std::string bytes;           // raw little-endian elements
  int64_t count = 1;
};

// "1x128" -> {1, 128}.
std::vector<int64_t> ParseDims(const std::string& s) {
  std::vector<int64_t> d;
  size_t at = 0;
  while (at <= s.size()) {
    size_t x = s.find('x', at);
    if (x == std::string::npos) x = s.size();
    d.push_back(std::stoll(s.substr(at, x - at)));
    at = x + 1;
  }
  return d;
}

// Fills the input's raw bytes: FP32 in [0, 1), integers 1 (a valid token id and mask).
void Fill(Input& in, std::mt19937& rng) {
  in.count = 1;
  for (int64_t d : in.dims) in.count *= d;
  if (in.datatype == "FP32") {
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> v(static_cast<size_t>(in.count));
    for (float& x : v) x = u(rng);
    in.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  } else if (in.datatype == "INT64") {
    std::vector<int64_t> v(static_cast<size_t>(in.count), 1);
    in.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 8);
  } else if (in.datatype == "INT32") {
    std::vector<int32_t> v(static_cast<size_t>(in.count), 1);
    in.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  } else {
    throw std::runtime_error("hone_loadgen: input " + in.name + " has datatype " + in.datatype +
                             " (FP32, INT64, INT32 supported)");
  }
}

// Concrete dims: --shape overrides, else the declared dims with -1 (batch, any) as 1.
std::vector<int64_t> Concrete(const std::string& name, std::vector<int64_t> dims,
                              const std::map<std::string, std::vector<int64_t>>& shapes) {
  if (auto it = shapes.find(name); it != shapes.end()) return it->second;
  for (int64_t& d : dims)
    if (d < 0) d = 1;
  return dims;
}

std::vector<Input> FromMetadata(const std::string& json,
                                const std::map<std::string, std::vector<int64_t>>& shapes,
                                std::mt19937& rng) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  std::vector<Input> out;
  for (simdjson::dom::element e : doc["inputs"].get_array()) {
    Input in;
    in.name = std::string(e["name"].get_string().value());
    in.datatype = std::string(e["datatype"].get_string().value());
    std::vector<int64_t> dims;
    for (simdjson::dom::element d : e["shape"].get_array()) dims.push_back(d.get_int64());
    in.dims = Concrete(in.name, dims, shapes);
    Fill(in, rng);
    out.push_back(std::move(in));
  }
  return out;
}

std::string JsonBody(const std::vector<Input>& inputs) {
  std::string s = "{\"inputs\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    s += fmt::format("{}{{\"name\":\"{}\",\"datatype\":\"{}\",\"shape\":[{}],\"data\":[",
                     i ? "," : "", in.name, in.datatype, fmt::join(in.dims, ","));
    for (int64_t k = 0; k < in.count; ++k) {
      if (k) s += ',';
      if (in.datatype == "FP32")
        fmt::format_to(std::back_inserter(s), "{}",
                       reinterpret_cast<const float*>(in.bytes.data())[k]);
      else if (in.datatype == "INT64")
        fmt::format_to(std::back_inserter(s), "{}",
                       reinterpret_cast<const int64_t*>(in.bytes.data())[k]);
      else
        fmt::format_to(std::back_inserter(s), "{}",
                       reinterpret_cast<const int32_t*>(in.bytes.data())[k]);
    }
    s += "]}";
  }
  return s + "]}";
}

// Binary extension: the JSON header (inputs with binary_data_size, every output binary) and the
// raw bytes; `header` gets the JSON's length.
std::string BinaryBody(const std::vector<Input>& inputs, size_t& header) {
  std::string s = "{\"inputs\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    s += fmt::format(
        "{}{{\"name\":\"{}\",\"datatype\":\"{}\",\"shape\":[{}],\"parameters\":{{"
        "\"binary_data_size\":{}}}}}",
        i ? "," : "", in.name, in.datatype, fmt::join(in.dims, ","), in.bytes.size());
  }
  s += "],\"parameters\":{\"binary_data_output\":true}}";
  header = s.size();
  for (const Input& in : inputs) s += in.bytes;
  return s;
}

inference::ModelInferRequest GrpcRequest(const std::string& model,
                                         const std::vector<Input>& inputs) {
  inference::ModelInferRequest r;
  r.set_model_name(model);
  for (const Input& in : inputs) {
    auto* t = r.add_inputs();
    t->set_name(in.name);
    t->set_datatype(in.datatype);
    for (int64_t d : in.dims) t->add_shape(d);
    r.add_raw_input_contents(in.bytes);
  }
  return r;
}

struct Result {
  std::vector<double> latencies_us;  // counted requests
  int64_t errors = 0;
  std::string first_error;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hone_loadgen: closed-loop KServe v2 load over HTTP/JSON, HTTP/binary or gRPC"};
  std::string host = "127.0.0.1", model, protocol = "json", in_process;
  int http_port = 8000, grpc_port = 8001, concurrency = 1, threads = 1;
  double seconds = 10, warmup = 1;
  std::vector<std::string> shape_args;
  app.add_option("--model", model, "the served model's name");
  app.add_option("--host", host, "server address")->capture_default_str();
  app.add_option("--http-port", http_port, "REST port (metadata, json, binary)")
      ->capture_default_str();
  app.add_option("--grpc-port", grpc_port, "gRPC port")->capture_default_str();
  app.add_option("--protocol", protocol, "json, binary or grpc")->capture_default_str();
  app.add_option("--concurrency", concurrency,
                 "requests in flight (one connection each; --in-process: threads sharing the "
                 "session)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "measured time")->capture_default_str();
  app.add_option("--warmup", warmup, "seconds of load before measuring")->capture_default_str();
  app.add_option("--shape", shape_args,
                 "NAME=AxBx...: an input's shape (default: declared, -1 as 1)");
  app.add_option("--in-process", in_process,
                 "time hone's Session::Run on MODEL.onnx instead of a server");
  app.add_option("--threads", threads, "--in-process: intra-op threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& s : shape_args) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) {
      fmt::print(stderr, "hone_loadgen: --shape wants NAME=AxB, got {}\n", s);
      return 2;
    }
    shapes[s.substr(0, eq)] = ParseDims(s.substr(eq + 1));
  }
  std::mt19937 rng(7);

  if (!in_process.empty()) {
    hone::SessionOptions so;
    so.threads = threads;
    auto session = hone::Session::FromFile(in_process, so);
    if (!session.ok()) {
      fmt::print(stderr, "hone_loadgen: {}\n", session.status().ToString());
      return 1;
    }
    std::vector<hone::NamedTensor> feeds;
    for (const hone::ValueInfo& v : (*session)->inputs()) {
      Input in;
      in.name = v.name;
      in.datatype = hone::serve::ProtocolType(v.dtype);
      std::vector<int64_t> dims;
      for (const hone::Dim& d : v.shape) dims.push_back(d.value);
      in.dims = Concrete(in.name, dims, shapes);
      Fill(in, rng);
      hone::Tensor t = hone::Tensor::Empty(v.dtype, hone::Shape(in.dims));
      std::memcpy(t.raw_data(), in.bytes.data(), in.bytes.size());
      feeds.push_back({in.name, std::move(t)});
    }
    // `concurrency` threads share the session from its first run on, as a server's would.
    std::vector<std::vector<double>> lats(static_cast<size_t>(concurrency));
    std::atomic<bool> failed{false};
    const auto warm_end = Clock::now() + std::chrono::duration<double>(warmup);
    const auto end = warm_end + std::chrono::duration<double>(seconds);
    std::vector<std::thread> runners;
    for (int w = 0; w < concurrency; ++w)
      runners.emplace_back([&, w] {
        while (Clock::now() < end) {
          const auto t0 = Clock::now();
          auto out = (*session)->Run(feeds);
          const auto t1 = Clock::now();
          if (!out.ok()) failed = true;
          if (t0 >= warm_end)
            lats[static_cast<size_t>(w)].push_back(
                std::chrono::duration<double, std::micro>(t1 - t0).count());
        }
      });
    for (auto& t : runners) t.join();
    if (failed) return 1;
    std::vector<double> lat;
    for (const auto& l : lats) lat.insert(lat.end(), l.begin(), l.end());
    const size_t n = lat.size();
    fmt::print(
        "{{\"mode\":\"in-process\",\"requests\":{},\"throughput\":{:.1f},\"p50_us\":{:.1f},"
        "\"p99_us\":{:.1f}}}\n",
        n, static_cast<double>(n) / seconds, Percentile(lat, 0.5), Percentile(lat, 0.99));
    return 0;
  }

  if (model.empty() || (protocol != "json" && protocol != "binary" && protocol != "grpc")) {
    fmt::print(stderr, "hone_loadgen: needs --model and --protocol json|binary|grpc\n");
    return 2;
  }
  httplib::Client meta(host, http_port);
  auto md = meta.Get("/v2/models/" + model);
  if (!md || md->status != 200) {
    fmt::print(stderr, "hone_loadgen: GET /v2/models/{} failed: {}\n", model,
               md ? md->body : httplib::to_string(md.error()));
    return 1;
  }
  const std::vector<Input> inputs = FromMetadata(md->body, shapes, rng);
  size_t header = 0;
  const std::string json_body = JsonBody(inputs);
  const std::string binary_body = BinaryBody(inputs, header);
  const inference::ModelInferRequest grpc_request = GrpcRequest(model, inputs);
  const std::string path = "/v2/models/" + model + "/infer";

  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration<double>(warmup);
  const auto end = measure_from + std::chrono::duration<double>(seconds);
  std::vector<Result> results(static_cast<size_t>(concurrency));
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      Result& res = results[static_cast<size_t>(w)];
      std::unique_ptr<httplib::Client> http;
      std::unique_ptr<inference::GRPCInferenceService::Stub> stub;
      if (protocol == "grpc") {
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per worker
        stub = inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
            fmt::format("{}:{}", host, grpc_port), grpc::InsecureChannelCredentials(), args));
      } else {
        http = std::make_unique<httplib::Client>(host, http_port);
        http->set_keep_alive(true);
        http->set_tcp_nodelay(true);
        http->set_read_timeout(60, 0);
      }
      httplib::Headers binary_headers = {
          {"Inference-Header-Content-Length", std::to_string(header)}};
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        if (t0 >= end) break;
        bool ok = false;
        std::string error;
        if (stub) {
          grpc::ClientContext ctx;
          inference::ModelInferResponse r;
          grpc::Status s = stub->ModelInfer(&ctx, grpc_request, &r);
          ok = s.ok();
          if (!ok) error = s.error_message();
        } else {
          auto r = protocol == "json"
                       ? http->Post(path, json_body, "application/json")
                       : http->Post(path, binary_headers, binary_body, "application/octet-stream");
          ok = r && r->status == 200;
          if (!ok) error = r ? fmt::format("{} {}", r->status, r->body) : "connection failed";
        }
        const auto t1 = Clock::now();
        if (t0 < measure_from) continue;
        if (!ok) {
          if (res.errors++ == 0) res.first_error = error;
          continue;
        }
        res.latencies_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  for (auto& t : workers) t.join();
  std::vector<double> all;
  int64_t errors = 0;
  std::string first_error;
  for (const Result& r : results) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
  }
  const size_t n = all.size();
  fmt::print(
      "{{\"protocol\":\"{}\",\"model\":\"{}\",\"concurrency\":{},\"requests\":{},\"errors\":{},"
      "\"throughput\":{:.1f},\"p50_us\":{:.1f},\"p90_us\":{:.1f},\"p99_us\":{:.1f}}}\n",
      protocol, model, concurrency, n, errors, static_cast<double>(n) / seconds,
      Percentile(all, 0.5), Percentile(all, 0.9), Percentile(all, 0.99));
  if (errors) fmt::print(stderr, "hone_loadgen: {} errors, the first: {}\n", errors, first_error);
  return errors ? 1 : 0;
}
