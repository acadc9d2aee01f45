// hone serve's gRPC frontend: KServe v2's inference.GRPCInferenceService (grpc_service.proto)
// on Debian's libgrpc++, answering from the Server's core (serve/server.h) as the REST routes
// do. Inputs come as raw_input_contents or typed contents; outputs go out as
// raw_output_contents. Errors carry the matching gRPC codes (INVALID_ARGUMENT, NOT_FOUND,
// UNAVAILABLE, DEADLINE_EXCEEDED, UNAUTHENTICATED; RESOURCE_EXHAUSTED for a message over
// --max-request-bytes). TLS when the server has a certificate; with --api-key, the
// "authorization: Bearer <key>" metadata guards what it guards over REST.
//
//   auto grpc = GrpcFrontend::Start(server, options);  // binds options.grpc_port
//   (*grpc)->port();
//   (*grpc)->Stop();  // stops accepting, finishes the calls in flight
#pragma once

#include <memory>

#include "hone/status.h"

namespace hone::serve {

class Server;
struct ServerOptions;

class GrpcFrontend {
 public:
  static StatusOr<std::unique_ptr<GrpcFrontend>> Start(Server& server,
                                                       const ServerOptions& options);
  ~GrpcFrontend();
  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  explicit GrpcFrontend(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace hone::serve
