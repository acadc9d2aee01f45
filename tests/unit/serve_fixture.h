// hone serve's test helpers, shared by the HTTP and gRPC loopback tests: the digits model,
// loopback options, request bodies and a fixture that starts a server and a REST client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "serve/server.h"

namespace hone::serve {

namespace fs = std::filesystem;

// examples/digits_mlp.onnx: input "input" float [batch, 64] -> "logits" [batch, 10].
inline const std::string kModel = std::string(HONE_SOURCE_DIR) + "/examples/digits_mlp.onnx";

// A server for `repo` on a free loopback port, one intra-op thread, no metrics or gRPC port.
inline ServerOptions Loopback(const fs::path& repo) {
  ServerOptions o;
  o.repository = repo.string();
  o.http_port = 0;
  o.metrics_port = -1;
  o.grpc_port = -1;
  o.host = "127.0.0.1";
  o.threads = 1;
  return o;
}

// "1,1,...": n ones, for a JSON data array.
inline std::string Ones(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i ? ",1" : "1";
  return s;
}

// A one-row request to the digits model: 64 ones.
inline std::string OnesRequest() {
  return R"({"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[)" + Ones(64) +
         "]}]}";
}

// A started server on `repo_` with a client to it; removed with the repository at the end.
class ServerFixture : public ::testing::Test {
 protected:
  void Start(const ServerOptions& o) {
    auto s = Server::Create(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
    fs::remove_all(repo_);
  }
  fs::path repo_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace hone::serve
