// HttpApi: sagad's gRPC API over HTTP with the standard protobuf JSON mapping, for the web console
// (web/) and for curl:
//
//   POST /api/saga.v1.AdminService/GetOverview
//   Content-Type: application/json
//   Authorization: Bearer <token>          (when SAGAD_AUTH_TOKENS_FILE is set)
//
//   {"window": "3600s", "buckets": 60}
//
// Each call goes through an in-process gRPC channel to sagad's own server: the very handler,
// validation, authentication (the Authorization header becomes the authorization metadata) and
// role checks that a gRPC caller meets. No JSON is written by hand: the body is parsed into the
// method's request message and the response printed from its message (JsonStringToMessage and
// MessageToJsonString; unknown fields are refused, fields at their default are printed).
// Every unary method of the saga.v1 services is served; WatchSaga (a stream) is not. An error
// answers the HTTP status of its gRPC code (grpc_status.h) and a saga.v1.HttpError body. The
// content type must be application/json, so that a page of another origin cannot post here
// without a CORS preflight (which sagad does not grant). Thread-safe.
#ifndef SAGA_SERVICES_HTTP_API_H_
#define SAGA_SERVICES_HTTP_API_H_

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

namespace saga::services {

struct HttpApiRequest {
  std::string_view method;         // "saga.v1.AdminService/GetOverview" (the path after /api/)
  std::string_view content_type;   // the Content-Type header
  std::string_view body;           // JSON; empty means {}
  std::string_view authorization;  // the Authorization header, passed on as metadata
  std::string_view traceparent;    // the traceparent header, passed on as metadata
};

struct HttpApiReply {
  int http_status = 200;
  std::string json;  // the response message, or a saga.v1.HttpError
};

class HttpApi {
 public:
  // `channel` reaches sagad's gRPC server (its in-process channel).
  explicit HttpApi(std::shared_ptr<grpc::Channel> channel);

  HttpApiReply Call(const HttpApiRequest& request) const;

  // A saga.v1.HttpError in JSON.
  static std::string ErrorJson(grpc::StatusCode code, std::string_view message);

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace saga::services

#endif  // SAGA_SERVICES_HTTP_API_H_
