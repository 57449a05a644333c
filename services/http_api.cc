#include "services/http_api.h"

#include <chrono>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/ascii.h"
#include "absl/synchronization/notification.h"
#include "saga/v1/http_api.pb.h"
#include "sdk/base/strings.h"
#include "services/grpc_status.h"

namespace saga::services {
namespace {

// Long enough for the slowest unary call (StartSaga with wait_for_completion has its own).
constexpr auto kCallTimeout = std::chrono::seconds(60);
constexpr std::string_view kPackage = "saga.v1.";

HttpApiReply Error(grpc::StatusCode code, std::string_view message) {
  return {.http_status = HttpStatusOf(code), .json = HttpApi::ErrorJson(code, message)};
}

// The unary method named "saga.v1.Service/Method", or null.
const google::protobuf::MethodDescriptor* FindMethod(std::string_view name) {
  size_t slash = name.find('/');
  if (slash == std::string_view::npos || name.substr(0, kPackage.size()) != kPackage) return nullptr;
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          std::string(name.substr(0, slash)));
  if (service == nullptr) return nullptr;
  const google::protobuf::MethodDescriptor* method =
      service->FindMethodByName(std::string(name.substr(slash + 1)));
  if (method == nullptr || method->client_streaming() || method->server_streaming()) {
    return nullptr;
  }
  return method;
}

std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

}  // namespace

HttpApi::HttpApi(std::shared_ptr<grpc::Channel> channel) : channel_(std::move(channel)) {}

std::string HttpApi::ErrorJson(grpc::StatusCode code, std::string_view message) {
  saga::v1::HttpError error;
  error.set_code(GrpcCodeName(code));
  error.set_message(std::string(message));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(error, &json);
  return json;
}

HttpApiReply HttpApi::Call(const HttpApiRequest& request) const {
  const google::protobuf::MethodDescriptor* method = FindMethod(request.method);
  if (method == nullptr) {
    return Error(grpc::StatusCode::UNIMPLEMENTED,
                 saga::StrCat("no unary method \"", request.method,
                              "\"; call POST /api/<service>/<method>, for example "
                              "/api/saga.v1.SagaService/ListSagas (WatchSaga is gRPC only)"));
  }
  std::string media_type(request.content_type.substr(
      0, std::min(request.content_type.find(';'), request.content_type.size())));
  absl::StripAsciiWhitespace(&media_type);
  if (absl::AsciiStrToLower(media_type) != "application/json") {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "send the request as Content-Type: application/json");
  }

  std::unique_ptr<google::protobuf::Message> input = NewMessage(method->input_type());
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  const std::string body = request.body.empty() ? "{}" : std::string(request.body);
  if (auto parsed = google::protobuf::util::JsonStringToMessage(body, input.get(), parse);
      !parsed.ok()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 saga::StrCat("the body is not a JSON ", method->input_type()->full_name(), ": ",
                              std::string(parsed.message())));
  }
  std::string bytes;
  input->SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  if (!request.authorization.empty()) {
    context.AddMetadata("authorization", std::string(request.authorization));
  }
  if (!request.traceparent.empty()) {
    context.AddMetadata("traceparent", std::string(request.traceparent));
  }
  grpc::GenericStub stub(channel_);
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, saga::StrCat("/", method->service()->full_name(), "/", method->name()),
                 grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return Error(status.error_code(), status.error_message());

  std::unique_ptr<google::protobuf::Message> output = NewMessage(method->output_type());
  grpc::Slice response_bytes;
  if (!response_buffer.DumpToSingleSlice(&response_bytes).ok() ||
      !output->ParseFromArray(response_bytes.begin(), static_cast<int>(response_bytes.size()))) {
    return Error(grpc::StatusCode::INTERNAL, "the response did not parse");
  }
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  HttpApiReply reply;
  if (auto printed = google::protobuf::util::MessageToJsonString(*output, &reply.json, print);
      !printed.ok()) {
    return Error(grpc::StatusCode::INTERNAL, std::string(printed.message()));
  }
  return reply;
}

}  // namespace saga::services
