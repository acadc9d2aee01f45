// hone serve over loopback HTTP (serve/server.h): health, metadata, JSON inference checked
// against a direct Session run, dynamic batching seen in the responses, the response cache, and
// every error case answered with the right status and a message while the server carries on.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hone/hone.h"
#include "serve/protocol.h"
#include "serve/server.h"
#include "serve_fixture.h"

namespace hone::serve {
namespace {

namespace fs = std::filesystem;

class ServeTest : public ServerFixture {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() / ("hone_serve_" + std::to_string(::getpid()));
    fs::create_directories(repo_ / "digits" / "1");
    fs::copy_file(kModel, repo_ / "digits" / "1" / "model.onnx");
    fs::create_directories(repo_ / "batched" / "3");
    fs::copy_file(kModel, repo_ / "batched" / "3" / "model.onnx");
    std::ofstream(repo_ / "batched" / "config.pbtxt") << R"(
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 200000 preferred_batch_size: [ 4 ] }
response_cache { enable: true }
)";
    fs::create_directories(repo_ / "broken" / "1");
    std::ofstream(repo_ / "broken" / "config.pbtxt") << "max_batch_size: -1";
    ServerOptions o = Loopback(repo_);
    o.metrics_port = 0;
    o.max_request_bytes = 1 << 16;
    Start(o);
  }
  static std::string Body(int rows, float value) {
    std::string data;
    for (int i = 0; i < rows * 64; ++i) data += (i ? "," : "") + std::to_string(value + i % 7);
    return R"({"id":"r1","inputs":[{"name":"input","shape":[)" + std::to_string(rows) +
           R"(,64],"datatype":"FP32","data":[)" + data + "]}]}";
  }
};

TEST_F(ServeTest, HealthMetadataAndLoadErrors) {
  auto r = client_->Get("/v2/health/live");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client_->Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(client_->Get("/v2/models/digits/ready")->status, 200);
  r = client_->Get("/v2/models/batched");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"("versions":["3"])"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"({"name":"input","datatype":"FP32","shape":[-1,64]})"),
            std::string::npos)
      << r->body;
  // The broken config is reported; the others serve.
  ASSERT_EQ(server_->load_errors().size(), 1u);
  EXPECT_NE(server_->load_errors()[0].find("max_batch_size"), std::string::npos);
  EXPECT_EQ(server_->model_names(), (std::vector<std::string>{"batched", "digits"}));
}

TEST_F(ServeTest, InferMatchesADirectRun) {
  auto r = client_->Post("/v2/models/digits/versions/1/infer", Body(2, 0.5f), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto session = Session::FromFile(kModel);
  ASSERT_TRUE(session.ok());
  auto req = ParseInferRequest(Body(2, 0.5f));
  ASSERT_TRUE(req.ok());
  auto want = (*session)->Run(req->inputs);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(r->body, InferResponseJson("digits", 1, "r1", *want));
}

TEST_F(ServeTest, ABatchPaddedToItsBucketAnswersItsOwnRows) {
  // 5 rows run as 6 (the next bucket of max_batch_size 8); the answer has the 5 rows of a direct
  // run and the batch-size metric counts 5.
  auto r = client_->Post("/v2/models/batched/infer", Body(5, 1.5f), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto session = Session::FromFile(kModel);
  ASSERT_TRUE(session.ok());
  auto req = ParseInferRequest(Body(5, 1.5f));
  ASSERT_TRUE(req.ok());
  auto want = (*session)->Run(req->inputs);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(r->body, InferResponseJson("batched", 3, "r1", *want));
  EXPECT_NE(server_->MetricsText().find("hone_batch_size_sum{model=\"batched\",version=\"3\"} 5\n"),
            std::string::npos);
}

TEST_F(ServeTest, DynamicBatchingRunsConcurrentRequestsTogetherAndAnswersEach) {
  // Four single-row requests reach the preferred size 4 together; each gets its own row.
  std::vector<std::thread> threads;
  std::vector<std::string> bodies(4);
  std::vector<int> status(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      auto r =
          c.Post("/v2/models/batched/infer", Body(1, static_cast<float>(i)), "application/json");
      status[static_cast<size_t>(i)] = r ? r->status : -1;
      if (r) bodies[static_cast<size_t>(i)] = r->body;
    });
  for (auto& t : threads) t.join();
  // One execution of 4 rows, read from /metrics on the metrics port.
  httplib::Client mc("127.0.0.1", server_->metrics_port());
  auto metrics = mc.Get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  const std::string labels = "{model=\"batched\",version=\"3\"}";
  EXPECT_NE(text.find("hone_inference_exec_count_total" + labels + " 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("hone_inference_count_total" + labels + " 4\n"), std::string::npos);
  EXPECT_NE(text.find("hone_inference_request_success_total" + labels + " 4\n"), std::string::npos);
  EXPECT_NE(text.find("hone_batch_size_bucket{model=\"batched\",version=\"3\",le=\"2\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("hone_batch_size_bucket{model=\"batched\",version=\"3\",le=\"4\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("hone_pending_requests" + labels + " 0\n"), std::string::npos);
  EXPECT_NE(text.find("hone_models_loaded 2\n"), std::string::npos);
  EXPECT_NE(text.find("hone_process_resident_memory_bytes "), std::string::npos);
  auto session = Session::FromFile(kModel);
  ASSERT_TRUE(session.ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(status[static_cast<size_t>(i)], 200) << bodies[static_cast<size_t>(i)];
    auto req = ParseInferRequest(Body(1, static_cast<float>(i)));
    ASSERT_TRUE(req.ok());
    auto want = (*session)->Run(req->inputs);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(bodies[static_cast<size_t>(i)], InferResponseJson("batched", 3, "r1", *want)) << i;
  }
}

TEST_F(ServeTest, ErrorsGetTheRightStatusAndTheServerCarriesOn) {
  struct Bad {
    const char* path;
    std::string body;
    int status;
    const char* expect;
  };
  const Bad bad[] = {
      {"/v2/models/nope/infer", Body(1, 0), 404, "unknown model 'nope'"},
      {"/v2/models/digits/versions/9/infer", Body(1, 0), 404, "no version 9"},
      {"/v2/models/digits/infer", "{\"inputs\": [", 400, "not valid JSON"},
      {"/v2/models/digits/infer",
       R"({"inputs":[{"name":"input","shape":[1,63],"datatype":"FP32","data":[1]}]})", 400,
       "holds 63 elements"},
      {"/v2/models/digits/infer",
       R"({"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,2]}]})", 400,
       "does not match the model's"},
      {"/v2/models/digits/infer",
       R"({"inputs":[{"name":"input","shape":[1,64],"datatype":"INT64","data":[)" + Ones(64) +
           "]}]}",
       400, "datatype int64 but the model takes float32"},
      {"/v2/models/digits/infer",
       R"({"inputs":[{"name":"pixels","shape":[1],"datatype":"FP32","data":[1]}]})", 400,
       "unknown input 'pixels'"},
      {"/v2/models/digits/infer", std::string(70000, ' '), 413, "larger than"},
      {"/v2/models/batched/infer", Body(9, 0), 503, "max_batch_size is 8"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.expect);
    auto r = client_->Post(b.path, b.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, b.status) << r->body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(b.expect), std::string::npos) << r->body;
  }
  // Still serving; the failures are counted per model.
  auto r = client_->Post("/v2/models/digits/infer", Body(1, 0), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const std::string text = server_->MetricsText();
  EXPECT_NE(text.find("hone_inference_request_failure_total{model=\"digits\",version=\"1\"} 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hone_inference_request_success_total{model=\"digits\",version=\"1\"} 1\n"),
            std::string::npos);
}

TEST_F(ServeTest, ResponseCacheAnswersARepeatedRequest) {
  auto first = client_->Post("/v2/models/batched/infer", Body(2, 1), "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  EXPECT_EQ(server_->cache().hits(), 0);
  auto again = client_->Post("/v2/models/batched/infer", Body(2, 1), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(server_->cache().hits(), 1);
  // Another input misses; a model without response_cache never uses it.
  ASSERT_EQ(client_->Post("/v2/models/batched/infer", Body(2, 2), "application/json")->status, 200);
  ASSERT_EQ(client_->Post("/v2/models/digits/infer", Body(2, 1), "application/json")->status, 200);
  ASSERT_EQ(client_->Post("/v2/models/digits/infer", Body(2, 1), "application/json")->status, 200);
  EXPECT_EQ(server_->cache().hits(), 1);
  EXPECT_EQ(server_->cache().misses(), 2);
}

TEST_F(ServeTest, BinaryTensorExtensionInAndOut) {
  // Input as 64 raw float32s after the JSON header, output "logits" asked back as raw bytes.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i % 9);
  const std::string header = R"({"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32",)"
                             R"("parameters":{"binary_data_size":256}}],)"
                             R"("outputs":[{"name":"logits","parameters":{"binary_data":true}}]})";
  std::string body = header;
  body.append(reinterpret_cast<const char*>(x.data()), 256);
  httplib::Headers h = {{"Inference-Header-Content-Length", std::to_string(header.size())}};
  auto r = client_->Post("/v2/models/digits/infer", h, body, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const int64_t json = std::stoll(r->get_header_value("Inference-Header-Content-Length"));
  const std::string head = r->body.substr(0, static_cast<size_t>(json));
  EXPECT_NE(head.find(R"("parameters":{"binary_data_size":40})"), std::string::npos) << head;
  ASSERT_EQ(r->body.size(), static_cast<size_t>(json) + 40);
  auto session = Session::FromFile(kModel);
  ASSERT_TRUE(session.ok());
  Tensor in = Tensor::Empty(DataType::kFloat32, {1, 64});
  std::memcpy(in.raw_data(), x.data(), 256);
  auto want = (*session)->Run({{"input", in}});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(std::memcmp(r->body.data() + json, (*want)[0].tensor.raw_data(), 40), 0);
  // Sizes that do not add up are 400s naming the problem.
  struct Bad {
    std::string header_length, body;
    const char* expect;
  };
  const Bad bad[] = {
      {std::to_string(header.size()), header + std::string(200, 'x'), "only 200 bytes are left"},
      {std::to_string(header.size()), header + std::string(300, 'x'),
       "44 bytes of binary data after the JSON header"},
      {"99999", body, "but the body has"},
      {"12abc", body, "is not a size"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.expect);
    auto e = client_->Post("/v2/models/digits/infer",
                           {{"Inference-Header-Content-Length", b.header_length}}, b.body,
                           "application/octet-stream");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    EXPECT_NE(e->body.find(b.expect), std::string::npos) << e->body;
  }
}

TEST(ServeProtocol, BytesTensorsRoundTripInBinary) {
  const std::string header =
      R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES",)"
      R"("parameters":{"binary_data_size":11}}],"parameters":{"binary_data_output":true}})";
  std::string body = header;
  const uint32_t two = 2, one = 1;
  body.append(reinterpret_cast<const char*>(&two), 4).append("hi");
  body.append(reinterpret_cast<const char*>(&one), 4).append("!");
  auto req = ParseInferRequest(body, static_cast<int64_t>(header.size()));
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_EQ(req->inputs.size(), 1u);
  EXPECT_EQ(req->inputs[0].tensor.data<std::string>()[0], "hi");
  EXPECT_EQ(req->inputs[0].tensor.data<std::string>()[1], "!");
  const InferResponse resp = MakeInferResponse("m", 1, *req, req->inputs);
  ASSERT_GE(resp.json_bytes, 0);
  EXPECT_EQ(resp.body.substr(static_cast<size_t>(resp.json_bytes)), body.substr(header.size()));
  // Without the header, binary_data_size is refused.
  auto no_header = ParseInferRequest(header);
  ASSERT_FALSE(no_header.ok());
  EXPECT_NE(no_header.status().message().find("Inference-Header-Content-Length"),
            std::string::npos);
}

// A repository of three copies of the digits model, served in `mode` with `budget` bytes.
class ControlTest : public ServerFixture {
 protected:
  void Serve(const std::string& mode, int64_t budget) {
    repo_ = fs::temp_directory_path() / ("hone_control_" + std::to_string(::getpid()));
    for (const char* m : {"a", "b", "c"}) {
      fs::create_directories(repo_ / m / "1");
      fs::copy_file(kModel, repo_ / m / "1" / "model.onnx");
    }
    ServerOptions o = Loopback(repo_);
    o.model_control = mode;
    o.memory_budget = budget;
    Start(o);
  }
  int Infer(const std::string& model) {
    auto r = client_->Post("/v2/models/" + model + "/infer", OnesRequest(), "application/json");
    last_ = r ? r->body : "";
    return r ? r->status : -1;
  }
  std::string last_;
};

TEST_F(ControlTest, ExplicitLoadAndUnloadThroughTheRepositoryApi) {
  Serve("explicit", 0);
  EXPECT_TRUE(server_->model_names().empty());
  EXPECT_EQ(Infer("a"), 503);
  EXPECT_NE(last_.find("/v2/repository/models/a/load"), std::string::npos) << last_;
  EXPECT_EQ(Infer("zz"), 404);
  EXPECT_EQ(client_->Post("/v2/repository/models/a/load", "", "application/json")->status, 200);
  EXPECT_EQ(Infer("a"), 200);
  auto index = client_->Post("/v2/repository/index", "", "application/json");
  ASSERT_TRUE(index);
  EXPECT_NE(index->body.find(R"({"name":"a","version":"1","state":"READY"})"), std::string::npos)
      << index->body;
  EXPECT_NE(index->body.find(R"({"name":"b","state":"UNAVAILABLE")"), std::string::npos);
  EXPECT_EQ(client_->Post("/v2/repository/models/a/unload", "", "application/json")->status, 200);
  EXPECT_EQ(Infer("a"), 503);
  EXPECT_EQ(client_->Post("/v2/repository/models/a/unload", "", "application/json")->status, 404);
  EXPECT_EQ(client_->Post("/v2/repository/models/zz/load", "", "application/json")->status, 404);
}

TEST_F(ControlTest, OnDemandLoadsOnceAndEvictsTheLeastRecentlyUsedIdleModel) {
  const int64_t size = static_cast<int64_t>(fs::file_size(kModel));
  Serve("on-demand", 2 * size + size / 2);  // room for two models
  // Four concurrent first requests to "a": one load, four answers.
  std::vector<std::thread> threads;
  std::vector<int> status(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      auto r = c.Post("/v2/models/a/infer", OnesRequest(), "application/json");
      status[static_cast<size_t>(i)] = r ? r->status : -1;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(status, (std::vector<int>{200, 200, 200, 200}));
  EXPECT_EQ(server_->loads(), 1);
  EXPECT_EQ(client_->Get("/v2/models/b/ready")->status, 503);  // ready does not load
  EXPECT_EQ(Infer("b"), 200);
  EXPECT_EQ(Infer("a"), 200);  // a is now more recent than b
  EXPECT_EQ(Infer("c"), 200);  // over budget: b, the least recently used, goes
  EXPECT_EQ(server_->model_names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(server_->loads(), 3);
  EXPECT_NE(server_->MetricsText().find("hone_models_loaded 2\n"), std::string::npos);
}

TEST_F(ControlTest, LoadAndUnloadDuringTrafficLoseNoAcceptedRequest) {
  Serve("explicit", 0);
  ASSERT_EQ(client_->Post("/v2/repository/models/a/load", "", "application/json")->status, 200);
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, not_loaded{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", server_->port());
      const std::string body = OnesRequest();
      for (int i = 0; i < 60; ++i) {
        auto r = c.Post("/v2/models/a/infer", body, "application/json");
        if (r && r->status == 200)
          ++ok;
        else if (r && r->status == 503 && r->body.find("not loaded") != std::string::npos)
          ++not_loaded;
        else
          ++other;
      }
    });
  std::thread control([&] {
    httplib::Client c("127.0.0.1", server_->port());
    for (int i = 0; i < 15 && !done; ++i) {
      c.Post("/v2/repository/models/a/unload", "", "application/json");
      c.Post("/v2/repository/models/a/load", "", "application/json");
    }
  });
  for (auto& t : clients) t.join();
  done = true;
  control.join();
  // Every request was either answered or refused as "not loaded": none failed or vanished.
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load() + not_loaded.load(), 180);
  EXPECT_GT(ok.load(), 0);
}

TEST(ServeTls, HttpsWithACertificateAndClearErrorsWithout) {
  const fs::path dir = fs::temp_directory_path() / ("hone_tls_" + std::to_string(::getpid()));
  fs::create_directories(dir / "repo" / "digits" / "1");
  fs::copy_file(kModel, dir / "repo" / "digits" / "1" / "model.onnx");
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    fs::remove_all(dir);
    GTEST_SKIP() << "openssl (the command) is not installed";
  }
  ServerOptions o = Loopback(dir / "repo");
  o.tls_cert = cert;
  o.tls_key = key;
  auto s = Server::Create(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Start().ok());
  httplib::SSLClient tls("127.0.0.1", (*s)->port());
  tls.enable_server_certificate_verification(false);  // self-signed
  auto r = tls.Get("/v2/models/digits");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  httplib::Client plain("127.0.0.1", (*s)->port());
  auto p = plain.Get("/v2/health/live");
  EXPECT_TRUE(!p || p->status != 200);  // plain HTTP is not served on the TLS port
  (*s)->Stop();
  o.tls_key = cert;  // a certificate is not a key
  auto bad = Server::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cannot use the TLS certificate"), std::string::npos);
  o.tls_key.clear();
  bad = Server::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--tls-key"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ServeAuth, ApiKeyGuardsInferenceAndTheRepositoryNotHealth) {
  const fs::path repo = fs::temp_directory_path() / ("hone_auth_" + std::to_string(::getpid()));
  fs::create_directories(repo / "digits" / "1");
  fs::copy_file(kModel, repo / "digits" / "1" / "model.onnx");
  for (bool open : {false, true}) {
    SCOPED_TRACE(open);
    ServerOptions o = Loopback(repo);
    o.api_key = "s3cret";
    o.open_inference = open;
    auto s = Server::Create(o);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Start().ok());
    httplib::Client c("127.0.0.1", (*s)->port());
    const std::string body = OnesRequest();
    EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
    EXPECT_EQ(c.Get("/v2/models/digits")->status, 200);
    auto r = c.Post("/v2/models/digits/infer", body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, open ? 200 : 401) << r->body;
    if (!open) {
      EXPECT_NE(r->body.find("Authorization: Bearer"), std::string::npos);
      r = c.Post("/v2/models/digits/infer", {{"Authorization", "Bearer wrong"}}, body,
                 "application/json");
      EXPECT_EQ(r->status, 401);
    }
    r = c.Post("/v2/models/digits/infer", {{"Authorization", "Bearer s3cret"}}, body,
               "application/json");
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(c.Post("/v2/repository/index", "", "application/json")->status, 401);
    (*s)->Stop();
  }
  fs::remove_all(repo);
}

}  // namespace
}  // namespace hone::serve
