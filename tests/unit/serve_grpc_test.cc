// hone serve over loopback gRPC (serve/grpc_frontend.h), with KServe's generated client stub:
// health and metadata, inference with raw and typed contents checked against a direct Session
// run, the response cache, the repository RPCs, the API key, TLS, and every error case
// answered with the matching gRPC code and a message while the server carries on.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "hone/hone.h"
#include "serve/grpc_service.grpc.pb.h"
#include "serve_fixture.h"

namespace hone::serve {
namespace {

namespace pb = ::inference;

// `rows` rows of the digits model's input, from `value` up.
std::vector<float> Pixels(int rows, float value) {
  std::vector<float> v(static_cast<size_t>(rows) * 64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = value + static_cast<float>(i % 7);
  return v;
}

pb::ModelInferRequest RawRequest(const std::string& model, const std::vector<float>& pixels) {
  pb::ModelInferRequest req;
  req.set_model_name(model);
  req.set_id("g1");
  auto* in = req.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  in->add_shape(static_cast<int64_t>(pixels.size() / 64));
  in->add_shape(64);
  req.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size() * sizeof(float)));
  return req;
}

// The digits model's logits for `pixels`, run in process.
std::vector<float> DirectLogits(const std::vector<float>& pixels) {
  auto session = Session::FromFile(kModel);
  EXPECT_TRUE(session.ok());
  const int64_t rows = static_cast<int64_t>(pixels.size() / 64);
  Tensor x = Tensor::Empty(DataType::kFloat32, Shape({rows, 64}));
  std::memcpy(x.raw_data(), pixels.data(), pixels.size() * sizeof(float));
  auto out = (*session)->Run({{"input", std::move(x)}});
  EXPECT_TRUE(out.ok());
  const Tensor& y = (*out)[0].tensor;
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

std::vector<float> RawFloats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

class GrpcTest : public ServerFixture {
 protected:
  void Serve(ServerOptions o) {
    o.grpc_port = 0;
    Start(o);
    stub_ = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }
  void SetUp() override {
    repo_ = fs::temp_directory_path() / ("hone_grpc_" + std::to_string(::getpid()));
    fs::create_directories(repo_ / "digits" / "1");
    fs::copy_file(kModel, repo_ / "digits" / "1" / "model.onnx");
    fs::create_directories(repo_ / "cached" / "2");
    fs::copy_file(kModel, repo_ / "cached" / "2" / "model.onnx");
    std::ofstream(repo_ / "cached" / "config.pbtxt") << R"(
max_batch_size: 8
response_cache { enable: true }
)";
    ServerOptions o = Loopback(repo_);
    o.max_request_bytes = 1 << 16;
    Serve(o);
  }
  grpc::Status Infer(const pb::ModelInferRequest& req, pb::ModelInferResponse* out = nullptr) {
    grpc::ClientContext ctx;
    pb::ModelInferResponse local;
    return stub_->ModelInfer(&ctx, req, out ? out : &local);
  }
  std::unique_ptr<pb::GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcTest, HealthAndMetadata) {
  {
    grpc::ClientContext ctx;
    pb::ServerLiveResponse r;
    ASSERT_TRUE(stub_->ServerLive(&ctx, {}, &r).ok());
    EXPECT_TRUE(r.live());
  }
  {
    grpc::ClientContext ctx;
    pb::ServerReadyResponse r;
    ASSERT_TRUE(stub_->ServerReady(&ctx, {}, &r).ok());
    EXPECT_TRUE(r.ready());
  }
  {
    grpc::ClientContext ctx;
    pb::ServerMetadataResponse r;
    ASSERT_TRUE(stub_->ServerMetadata(&ctx, {}, &r).ok());
    EXPECT_EQ(r.name(), "hone");
  }
  {
    grpc::ClientContext ctx;
    pb::ModelReadyRequest q;
    q.set_name("digits");
    pb::ModelReadyResponse r;
    ASSERT_TRUE(stub_->ModelReady(&ctx, q, &r).ok());
    EXPECT_TRUE(r.ready());
  }
  {
    grpc::ClientContext ctx;
    pb::ModelReadyRequest q;
    q.set_name("nope");
    pb::ModelReadyResponse r;
    EXPECT_EQ(stub_->ModelReady(&ctx, q, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext ctx;
  pb::ModelMetadataRequest q;
  q.set_name("cached");
  pb::ModelMetadataResponse r;
  ASSERT_TRUE(stub_->ModelMetadata(&ctx, q, &r).ok());
  EXPECT_EQ(r.name(), "cached");
  ASSERT_EQ(r.versions_size(), 1);
  EXPECT_EQ(r.versions(0), "2");
  EXPECT_EQ(r.platform(), "onnx");
  ASSERT_EQ(r.inputs_size(), 1);
  EXPECT_EQ(r.inputs(0).name(), "input");
  EXPECT_EQ(r.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(r.inputs(0).shape().begin(), r.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, 64}));
  ASSERT_EQ(r.outputs_size(), 1);
  EXPECT_EQ(r.outputs(0).name(), "logits");
}

TEST_F(GrpcTest, RawAndTypedContentsMatchADirectRun) {
  const std::vector<float> pixels = Pixels(3, 0.5f);
  const std::vector<float> want = DirectLogits(pixels);
  pb::ModelInferResponse r;
  grpc::Status s = Infer(RawRequest("digits", pixels), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.model_name(), "digits");
  EXPECT_EQ(r.model_version(), "1");
  EXPECT_EQ(r.id(), "g1");
  ASSERT_EQ(r.outputs_size(), 1);
  EXPECT_EQ(r.outputs(0).name(), "logits");
  EXPECT_EQ(r.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(r.outputs(0).shape().begin(), r.outputs(0).shape().end()),
            (std::vector<int64_t>{3, 10}));
  ASSERT_EQ(r.raw_output_contents_size(), 1);
  EXPECT_EQ(RawFloats(r.raw_output_contents(0)), want);
  // The same request with typed fp32_contents.
  pb::ModelInferRequest typed = RawRequest("digits", pixels);
  typed.clear_raw_input_contents();
  for (float v : pixels) typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(v);
  typed.add_outputs()->set_name("logits");
  pb::ModelInferResponse t;
  s = Infer(typed, &t);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(RawFloats(t.raw_output_contents(0)), want);
}

TEST_F(GrpcTest, ResponseCacheAnswersARepeatedRequest) {
  const pb::ModelInferRequest req = RawRequest("cached", Pixels(1, 2.0f));
  pb::ModelInferResponse first, second;
  ASSERT_TRUE(Infer(req, &first).ok());
  ASSERT_TRUE(Infer(req, &second).ok());
  EXPECT_EQ(first.raw_output_contents(0), second.raw_output_contents(0));
  EXPECT_EQ(server_->cache().hits(), 1);
  EXPECT_EQ(server_->cache().misses(), 1);
}

TEST_F(GrpcTest, ErrorsGetTheMatchingCodeAndTheServerCarriesOn) {
  struct Case {
    const char* what;
    std::function<void(pb::ModelInferRequest&)> edit;
    grpc::StatusCode code;
    const char* message;  // a part of the error message
  };
  const std::vector<Case> cases = {
      {"unknown model", [](auto& r) { r.set_model_name("nope"); }, grpc::StatusCode::NOT_FOUND,
       "unknown model 'nope'"},
      {"unknown version", [](auto& r) { r.set_model_version("7"); }, grpc::StatusCode::NOT_FOUND,
       "no version 7"},
      {"version not a number", [](auto& r) { r.set_model_version("x1"); },
       grpc::StatusCode::INVALID_ARGUMENT, "not a number"},
      {"unknown input", [](auto& r) { r.mutable_inputs(0)->set_name("pixels"); },
       grpc::StatusCode::INVALID_ARGUMENT, "unknown input 'pixels'"},
      {"unknown datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FLOAT"); },
       grpc::StatusCode::INVALID_ARGUMENT, "unknown datatype 'FLOAT'"},
      {"wrong datatype",
       [](auto& r) {
         r.mutable_inputs(0)->set_datatype("FP64");
         r.set_raw_input_contents(0, std::string(64 * 8, '\0'));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "datatype"},
      {"wrong shape", [](auto& r) { r.mutable_inputs(0)->set_shape(1, 32); },
       grpc::StatusCode::INVALID_ARGUMENT, "needs 128"},
      {"raw bytes short",
       [](auto& r) { r.set_raw_input_contents(0, r.raw_input_contents(0).substr(4)); },
       grpc::StatusCode::INVALID_ARGUMENT, "252 bytes of data"},
      {"raw entries do not match inputs", [](auto& r) { r.add_raw_input_contents("x"); },
       grpc::StatusCode::INVALID_ARGUMENT, "2 entries for 1 inputs"},
      {"negative shape", [](auto& r) { r.mutable_inputs(0)->set_shape(0, -1); },
       grpc::StatusCode::INVALID_ARGUMENT, "shape entries"},
      {"no contents", [](auto& r) { r.clear_raw_input_contents(); },
       grpc::StatusCode::INVALID_ARGUMENT, "no contents"},
      {"typed count wrong",
       [](auto& r) {
         r.clear_raw_input_contents();
         r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "fp32_contents has 1"},
      {"FP16 typed",
       [](auto& r) {
         r.clear_raw_input_contents();
         r.mutable_inputs(0)->set_datatype("FP16");
         r.mutable_inputs(0)->mutable_contents();
       },
       grpc::StatusCode::INVALID_ARGUMENT, "only in raw_input_contents"},
      {"input twice",
       [](auto& r) {
         *r.add_inputs() = r.inputs(0);
         r.add_raw_input_contents(r.raw_input_contents(0));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "appears twice"},
      {"unknown output", [](auto& r) { r.add_outputs()->set_name("probs"); },
       grpc::StatusCode::INVALID_ARGUMENT, "probs"},
      {"over --max-request-bytes",
       [](auto& r) { r.set_raw_input_contents(0, std::string(1 << 17, '\0')); },
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    pb::ModelInferRequest req = RawRequest("digits", Pixels(1, 0.0f));
    c.edit(req);
    const grpc::Status s = Infer(req);
    EXPECT_EQ(s.error_code(), c.code) << s.error_message();
    EXPECT_NE(s.error_message().find(c.message), std::string::npos) << s.error_message();
  }
  EXPECT_TRUE(Infer(RawRequest("digits", Pixels(1, 0.0f))).ok());
}

TEST_F(GrpcTest, RepositoryRpcsLoadAndUnloadInExplicitMode) {
  server_->Stop();
  ServerOptions o = Loopback(repo_);
  o.model_control = "explicit";
  Serve(o);
  auto index = [&] {
    grpc::ClientContext ctx;
    pb::RepositoryIndexResponse r;
    EXPECT_TRUE(stub_->RepositoryIndex(&ctx, {}, &r).ok());
    std::string out;
    for (const auto& m : r.models()) out += m.name() + ":" + m.version() + ":" + m.state() + " ";
    return out;
  };
  EXPECT_EQ(index(), "cached::UNAVAILABLE digits::UNAVAILABLE ");
  {
    grpc::ClientContext ctx;
    pb::ModelReadyRequest q;
    q.set_name("digits");
    pb::ModelReadyResponse r;
    ASSERT_TRUE(stub_->ModelReady(&ctx, q, &r).ok());
    EXPECT_FALSE(r.ready());
  }
  EXPECT_EQ(Infer(RawRequest("digits", Pixels(1, 0.0f))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext ctx;
    pb::RepositoryModelLoadRequest q;
    q.set_model_name("digits");
    pb::RepositoryModelLoadResponse r;
    ASSERT_TRUE(stub_->RepositoryModelLoad(&ctx, q, &r).ok());
  }
  EXPECT_EQ(index(), "cached::UNAVAILABLE digits:1:READY ");
  EXPECT_TRUE(Infer(RawRequest("digits", Pixels(1, 0.0f))).ok());
  {
    grpc::ClientContext ctx;
    pb::RepositoryModelUnloadRequest q;
    q.set_model_name("digits");
    pb::RepositoryModelUnloadResponse r;
    ASSERT_TRUE(stub_->RepositoryModelUnload(&ctx, q, &r).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::RepositoryModelLoadRequest q;
    q.set_model_name("nope");
    pb::RepositoryModelLoadResponse r;
    const grpc::Status s = stub_->RepositoryModelLoad(&ctx, q, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }
  EXPECT_EQ(Infer(RawRequest("digits", Pixels(1, 0.0f))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTest, ApiKeyGuardsInferenceAndTheRepositoryNotHealth) {
  server_->Stop();
  ServerOptions o = Loopback(repo_);
  o.api_key = "s3cret";
  Serve(o);
  {
    grpc::ClientContext ctx;
    pb::ServerLiveResponse r;
    EXPECT_TRUE(stub_->ServerLive(&ctx, {}, &r).ok());
  }
  const pb::ModelInferRequest req = RawRequest("digits", Pixels(1, 0.0f));
  {
    grpc::ClientContext ctx;
    pb::ModelInferResponse r;
    const grpc::Status s = stub_->ModelInfer(&ctx, req, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(s.error_message().find("Bearer"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    pb::RepositoryIndexResponse r;
    EXPECT_EQ(stub_->RepositoryIndex(&ctx, {}, &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer s3cret");
  pb::ModelInferResponse r;
  EXPECT_TRUE(stub_->ModelInfer(&ctx, req, &r).ok());
}

TEST_F(GrpcTest, TlsWithACertificate) {
  const fs::path dir = repo_ / "tls";
  fs::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost -keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl (the command) is not installed";
  server_->Stop();
  ServerOptions o = Loopback(repo_);
  o.tls_cert = cert;
  o.tls_key = key;
  o.grpc_port = 0;
  Start(o);
  std::ifstream f(cert);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(f), {});
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto tls = pb::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::SslCredentials(ssl), args));
  grpc::ClientContext ctx;
  pb::ModelInferResponse r;
  const grpc::Status s = tls->ModelInfer(&ctx, RawRequest("digits", Pixels(1, 0.0f)), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(RawFloats(r.raw_output_contents(0)), DirectLogits(Pixels(1, 0.0f)));
  // A plain-text client gets no answer from the TLS port.
  auto plain = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext pctx;
  pctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::ServerLiveResponse live;
  EXPECT_FALSE(plain->ServerLive(&pctx, {}, &live).ok());
}

}  // namespace
}  // namespace hone::serve
