// libFuzzer target: the request handling of every RPC of saga.v1 up to the database, as the
// handlers in services/ do it: the request bytes parsed as gRPC does (or, for the HTTP API, as
// services/http_api.cc parses JSON), then the same checks (services/request_validation.h,
// outbox::ValidatePublishRequest, definitions, descriptor sets, page tokens). The first input
// byte picks the RPC (its low 7 bits) and the encoding (its high bit: JSON in the protobuf JSON
// mapping; else binary protobuf), the rest is the request. A refusal must be INVALID_ARGUMENT
// with a message (fuzz_check.h); nothing may crash.
//
// Seeds: tests/fuzz/corpus/request/ (made from tests/fuzz/seeds/requests/*.textproto and
// tests/fuzz/seeds/json/*.json by tests/fuzz/run.sh). Run by tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "coordinator/definition_validator.h"
#include "coordinator/descriptor_import.h"
#include "outbox/message_validation.h"
#include "saga/v1/admin_service.pb.h"
#include "saga/v1/outbox_service.pb.h"
#include "saga/v1/saga_service.pb.h"
#include "saga/v1/tcc_service.pb.h"
#include "services/page_token.h"
#include "services/request_validation.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using saga::fuzz::ExpectClearRefusal;
using saga::services::RequestLimits;
using saga::services::ValidateRequest;

const RequestLimits kLimits{.max_payload_bytes = 4096};

// Whether the input being run is JSON (the HTTP API) rather than binary protobuf (gRPC).
bool json_input = false;

// Parses `bytes` as `Request` and runs `check` on it when it parses.
template <typename Request>
void Handle(const std::string& bytes, const char* rpc,
            const std::function<absl::Status(const Request&)>& check) {
  Request request;
  if (json_input) {
    // As services/http_api.cc: unknown fields refused (INVALID_ARGUMENT before any handler).
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    if (!google::protobuf::util::JsonStringToMessage(bytes, &request, options).ok()) return;
  } else if (!request.ParseFromString(bytes)) {
    return;  // gRPC answers INTERNAL before any handler
  }
  ExpectClearRefusal(check(request), rpc);
}

absl::Status PageToken(const std::string& token, size_t fields) {
  if (token.empty()) return absl::OkStatus();
  auto decoded = saga::services::DecodePageToken(token, "fuzz", fields);
  return decoded.ok() ? absl::OkStatus() : decoded.status();
}

absl::Status SagaPageToken(const std::string& token) {
  if (token.empty()) return absl::OkStatus();
  auto decoded = saga::services::DecodeSagaPageToken(token, "fuzz");
  return decoded.ok() ? absl::OkStatus() : decoded.status();
}

// One entry per RPC, in the order of the seed files' numbers (tests/fuzz/seeds/requests/).
const std::vector<std::function<void(const std::string&)>>& Rpcs() {
  using namespace saga::v1;  // NOLINT: the request types
  static const auto* rpcs = new std::vector<std::function<void(const std::string&)>>{
      // SagaService
      [](const std::string& b) {
        Handle<RegisterDefinitionRequest>(b, "RegisterDefinition", [](const auto& r) {
          if (!r.has_definition()) return absl::InvalidArgumentError("definition: is required");
          return saga::coordinator::ValidateDefinition(r.definition());
        });
      },
      [](const std::string& b) {
        ImportDefinitionsRequest r;
        if (!r.ParseFromString(b)) return;
        saga::coordinator::ImportTargets targets;
        targets.fallback = r.default_target();
        for (const auto& [service, target] : r.service_targets()) targets.by_service[service] = target;
        auto definitions =
            saga::coordinator::DefinitionsFromDescriptorSet(r.file_descriptor_set(), targets);
        if (!definitions.ok()) {
          ExpectClearRefusal(definitions.status(), "ImportDefinitions",
                             {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound});
          return;
        }
        for (const auto& d : *definitions) {
          ExpectClearRefusal(saga::coordinator::ValidateDefinition(d), "ImportDefinitions");
        }
      },
      [](const std::string& b) {
        Handle<GetDefinitionRequest>(b, "GetDefinition", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<ListDefinitionsRequest>(b, "ListDefinitions", [](const auto& r) {
          absl::Status s = ValidateRequest(r);
          return s.ok() ? PageToken(r.page_token(), 2) : s;
        });
      },
      [](const std::string& b) {
        Handle<StartSagaRequest>(b, "StartSaga", [](const auto& r) { return ValidateRequest(r, kLimits); });
      },
      [](const std::string& b) {
        Handle<GetSagaRequest>(b, "GetSaga", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<ListSagasRequest>(b, "ListSagas", [](const auto& r) {
          absl::Status s = ValidateRequest(r);
          return s.ok() ? SagaPageToken(r.page_token()) : s;
        });
      },
      [](const std::string& b) {
        Handle<WatchSagaRequest>(b, "WatchSaga", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<AbortSagaRequest>(b, "AbortSaga", [](const auto& r) { return ValidateRequest(r); });
      },
      // TccService
      [](const std::string& b) {
        Handle<BeginRequest>(b, "Begin", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<RegisterBranchRequest>(b, "RegisterBranch",
                                      [](const auto& r) { return ValidateRequest(r, kLimits); });
      },
      [](const std::string& b) {
        Handle<CommitRequest>(b, "Commit", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<RollbackRequest>(b, "Rollback", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<GetTransactionRequest>(b, "GetTransaction", [](const auto& r) { return ValidateRequest(r); });
      },
      // OutboxService
      [](const std::string& b) {
        Handle<PublishRequest>(b, "Publish", [](const auto& r) {
          saga::outbox::MessageLimits limits;
          limits.max_payload_bytes = kLimits.max_payload_bytes;
          return saga::outbox::ValidatePublishRequest(r, limits);
        });
      },
      // AdminService
      [](const std::string& b) {
        Handle<RetrySagaRequest>(b, "RetrySaga", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<ReplayCompensationRequest>(b, "ReplayCompensation",
                                          [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<SkipStepRequest>(b, "SkipStep", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<GetHistoryRequest>(b, "GetHistory", [](const auto& r) {
          absl::Status s = ValidateRequest(r);
          return s.ok() ? PageToken(r.page_token(), 1) : s;
        });
      },
      [](const std::string& b) {
        Handle<ListQuarantinedRequest>(b, "ListQuarantined", [](const auto& r) {
          absl::Status s = ValidateRequest(r);
          return s.ok() ? SagaPageToken(r.page_token()) : s;
        });
      },
      [](const std::string& b) {
        Handle<ListParkedRequest>(b, "ListParked", [](const auto& r) {
          absl::Status s = ValidateRequest(r);
          return s.ok() ? PageToken(r.page_token(), 1) : s;
        });
      },
      [](const std::string& b) {
        Handle<RequeueParkedRequest>(b, "RequeueParked", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<GetOverviewRequest>(b, "GetOverview", [](const auto& r) { return ValidateRequest(r); });
      },
      [](const std::string& b) {
        Handle<WhoAmIRequest>(b, "WhoAmI", [](const auto&) { return absl::OkStatus(); });
      },
  };
  return *rpcs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& rpcs = Rpcs();
  json_input = (data[0] & 0x80) != 0;
  rpcs[(data[0] & 0x7f) % rpcs.size()](
      std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
