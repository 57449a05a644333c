#include "services/request_validation.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "coordinator/definition_validator.h"
#include "outbox/topic_name.h"
#include "sdk/base/status_macros.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"

namespace saga::services {
namespace {

constexpr size_t kMaxReasonBytes = 1024;
constexpr size_t kMaxIdempotencyKeyBytes = 256;
constexpr size_t kMaxLabelValueBytes = 256;
constexpr int kMaxLabels = 64;
constexpr int kMaxPageSize = 1000;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(saga::StrCat(field, ": ", what));
}

absl::Status ValidateTimestamp(const google::protobuf::Timestamp& t, std::string_view field) {
  // The range of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31.
  if (t.seconds() < -62135596800LL || t.seconds() > 253402300799LL || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return Invalid(field, "is not a valid timestamp");
  }
  return absl::OkStatus();
}

absl::Status ValidateTimeRange(bool has_after, const google::protobuf::Timestamp& after,
                               bool has_before, const google::protobuf::Timestamp& before) {
  if (has_after) SAGA_RETURN_IF_ERROR(ValidateTimestamp(after, "created_after"));
  if (has_before) SAGA_RETURN_IF_ERROR(ValidateTimestamp(before, "created_before"));
  if (has_after && has_before &&
      (before.seconds() < after.seconds() ||
       (before.seconds() == after.seconds() && before.nanos() < after.nanos()))) {
    return Invalid("created_before", "must not be earlier than created_after");
  }
  return absl::OkStatus();
}

absl::Status ValidateStates(const google::protobuf::RepeatedField<int>& states,
                            std::string_view field) {
  for (int i = 0; i < states.size(); ++i) {
    if (!saga::v1::SagaState_IsValid(states[i]) || states[i] == saga::v1::SAGA_STATE_UNSPECIFIED) {
      return Invalid(saga::StrCat(field, "[", i, "]"),
                     saga::StrCat("unknown saga state ", states[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOptionalDefinitionName(std::string_view name, std::string_view field) {
  if (name.empty()) return absl::OkStatus();
  return coordinator::ValidateDefinitionName(name, field);
}

absl::Status ValidateStepName(std::string_view name, std::string_view field) {
  if (name.empty()) return Invalid(field, "is required");
  if (name.size() > 64) return Invalid(field, "a step name has at most 64 characters");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateUuidField(std::string_view value, std::string_view field) {
  if (value.empty()) return Invalid(field, "is required");
  if (!IsUuid(value)) {
    return Invalid(field, saga::StrCat("\"", value.substr(0, 64),
                                       "\" is not a UUID; expected the form "
                                       "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePageSize(int page_size, std::string_view field) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return Invalid(field, saga::StrCat("must be from 1 to ", kMaxPageSize,
                                       " (0 means 100), got ", page_size));
  }
  return absl::OkStatus();
}

int EffectivePageSize(int page_size) { return page_size == 0 ? 100 : page_size; }

absl::Status ValidateReason(std::string_view reason, std::string_view field) {
  if (reason.empty()) return Invalid(field, "is required: say why, it is kept in the history");
  if (reason.size() > kMaxReasonBytes) {
    return Invalid(field, saga::StrCat("at most ", kMaxReasonBytes, " bytes, got ", reason.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateIdempotencyKey(std::string_view key, std::string_view field) {
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return Invalid(field, saga::StrCat("at most ", kMaxIdempotencyKeyBytes, " bytes, got ",
                                       key.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels,
                            std::string_view field) {
  if (labels.size() > kMaxLabels) {
    return Invalid(field, saga::StrCat("at most ", kMaxLabels, " labels, got ", labels.size()));
  }
  for (const auto& [key, value] : labels) {
    bool ok = !key.empty() && key.size() <= 63;
    for (char c : key) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                  c == '-' || c == '/');
    }
    if (!ok) {
      return Invalid(saga::StrCat(field, "[\"", key.substr(0, 64), "\"]"),
                     "label keys have 1 to 63 characters of [a-z0-9_.-/]");
    }
    if (value.size() > kMaxLabelValueBytes) {
      return Invalid(saga::StrCat(field, "[\"", key, "\"]"),
                     saga::StrCat("label values have at most ", kMaxLabelValueBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const saga::v1::GetDefinitionRequest& request) {
  return coordinator::ValidateDefinitionName(request.name(), "name");
}

absl::Status ValidateRequest(const saga::v1::ListDefinitionsRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateOptionalDefinitionName(request.name(), "name"));
  return ValidatePageSize(request.page_size());
}

absl::Status ValidateRequest(const saga::v1::StartSagaRequest& request,
                             const RequestLimits& limits) {
  SAGA_RETURN_IF_ERROR(
      coordinator::ValidateDefinitionName(request.definition_name(), "definition_name"));
  SAGA_RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key()));
  for (const auto& [step, payload] : request.payloads()) {
    std::string field = saga::StrCat("payloads[\"", step.substr(0, 64), "\"]");
    SAGA_RETURN_IF_ERROR(ValidateStepName(step, field));
    if (payload.size() > limits.max_payload_bytes) {
      return Invalid(field, saga::StrCat(payload.size(), " bytes is above the payload limit of ",
                                         limits.max_payload_bytes,
                                         " bytes (SAGAD_MAX_PAYLOAD_BYTES)"));
    }
  }
  return ValidateLabels(request.labels());
}

absl::Status ValidateRequest(const saga::v1::GetSagaRequest& request) {
  return ValidateUuidField(request.saga_id(), "saga_id");
}

absl::Status ValidateRequest(const saga::v1::ListSagasRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateStates(request.states(), "states"));
  SAGA_RETURN_IF_ERROR(ValidateOptionalDefinitionName(request.definition_name(), "definition_name"));
  SAGA_RETURN_IF_ERROR(ValidateTimeRange(request.has_created_after(), request.created_after(),
                                         request.has_created_before(), request.created_before()));
  SAGA_RETURN_IF_ERROR(ValidateLabels(request.labels()));
  if (request.error_contains().size() > 256) {
    return Invalid("error_contains", "must have at most 256 bytes");
  }
  return ValidatePageSize(request.page_size());
}

absl::Status ValidateRequest(const saga::v1::WatchSagaRequest& request) {
  return ValidateUuidField(request.saga_id(), "saga_id");
}

absl::Status ValidateRequest(const saga::v1::AbortSagaRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.saga_id(), "saga_id"));
  return ValidateReason(request.reason());
}

absl::Status ValidateRequest(const saga::v1::BeginRequest& request) {
  const auto& timeout = request.timeout();
  if (!request.has_timeout() || timeout.seconds() < 1 || timeout.seconds() > 24 * 3600 ||
      timeout.nanos() < 0) {
    return Invalid("timeout", "is required, from 1 s to 24 h");
  }
  SAGA_RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key()));
  return ValidateLabels(request.labels());
}

absl::Status ValidateRequest(const saga::v1::RegisterBranchRequest& request,
                             const RequestLimits& limits) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.global_id(), "global_id"));
  const std::string& branch = request.branch_id();
  bool ok = !branch.empty() && branch.size() <= 64;
  for (char c : branch) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  }
  if (!ok) return Invalid("branch_id", "use 1 to 64 characters of [a-zA-Z0-9_.-]");
  if (!request.has_confirm()) return Invalid("confirm", "is required");
  if (!request.has_cancel()) return Invalid("cancel", "is required");
  // Endpoints follow the definition language's rules; reuse them through a one-step definition.
  saga::v1::SagaDefinition probe;
  probe.set_name("tcc");
  auto* step = probe.add_steps();
  step->set_name("branch");
  *step->mutable_action() = request.confirm();
  *step->mutable_compensation() = request.cancel();
  if (absl::Status s = coordinator::ValidateDefinition(probe); !s.ok()) {
    std::string message(s.message());
    absl::StrReplaceAll({{"definition.steps[0].action", "confirm"},
                         {"definition.steps[0].compensation", "cancel"}},
                        &message);
    return absl::InvalidArgumentError(message);
  }
  if (request.payload().size() > limits.max_payload_bytes) {
    return Invalid("payload", saga::StrCat(request.payload().size(),
                                           " bytes is above the payload limit of ",
                                           limits.max_payload_bytes,
                                           " bytes (SAGAD_MAX_PAYLOAD_BYTES)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const saga::v1::CommitRequest& request) {
  return ValidateUuidField(request.global_id(), "global_id");
}

absl::Status ValidateRequest(const saga::v1::RollbackRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.global_id(), "global_id"));
  if (request.reason().size() > kMaxReasonBytes) {
    return Invalid("reason", saga::StrCat("at most ", kMaxReasonBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const saga::v1::GetTransactionRequest& request) {
  return ValidateUuidField(request.global_id(), "global_id");
}

absl::Status ValidateRequest(const saga::v1::RetrySagaRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.saga_id(), "saga_id"));
  return ValidateReason(request.reason());
}

absl::Status ValidateRequest(const saga::v1::ReplayCompensationRequest& request) {
  switch (request.selector_case()) {
    case saga::v1::ReplayCompensationRequest::kSagaId:
      SAGA_RETURN_IF_ERROR(ValidateUuidField(request.saga_id(), "saga_id"));
      break;
    case saga::v1::ReplayCompensationRequest::kFilter: {
      const auto& filter = request.filter();
      if (filter.definition_name().empty() && filter.states().empty() &&
          !filter.has_created_after() && !filter.has_created_before() &&
          filter.error_contains().empty()) {
        return Invalid("filter", "set at least one field; an empty filter would select every "
                                 "saga");
      }
      SAGA_RETURN_IF_ERROR(
          ValidateOptionalDefinitionName(filter.definition_name(), "filter.definition_name"));
      SAGA_RETURN_IF_ERROR(ValidateStates(filter.states(), "filter.states"));
      SAGA_RETURN_IF_ERROR(ValidateTimeRange(filter.has_created_after(), filter.created_after(),
                                             filter.has_created_before(), filter.created_before()));
      break;
    }
    case saga::v1::ReplayCompensationRequest::SELECTOR_NOT_SET:
      return Invalid("selector", "set saga_id (one saga) or filter (many)");
  }
  if (!request.from_step().empty()) {
    SAGA_RETURN_IF_ERROR(ValidateStepName(request.from_step(), "from_step"));
  }
  if (request.limit() < 0 || request.limit() > 10000) {
    return Invalid("limit", "must be from 1 to 10000 (0 means 1000)");
  }
  return ValidateReason(request.reason());
}

absl::Status ValidateRequest(const saga::v1::SkipStepRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.saga_id(), "saga_id"));
  SAGA_RETURN_IF_ERROR(ValidateStepName(request.step(), "step"));
  return ValidateReason(request.reason());
}

absl::Status ValidateRequest(const saga::v1::GetHistoryRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateUuidField(request.saga_id(), "saga_id"));
  return ValidatePageSize(request.page_size());
}

absl::Status ValidateRequest(const saga::v1::ListQuarantinedRequest& request) {
  SAGA_RETURN_IF_ERROR(ValidateOptionalDefinitionName(request.definition_name(), "definition_name"));
  return ValidatePageSize(request.page_size());
}

absl::Status ValidateRequest(const saga::v1::ListParkedRequest& request) {
  if (!request.topic().empty()) {
    SAGA_RETURN_IF_ERROR(outbox::ValidateTopicName(request.topic(), "topic"));
  }
  return ValidatePageSize(request.page_size());
}

absl::Status ValidateRequest(const saga::v1::RequeueParkedRequest& request) {
  if (request.message_ids().empty() || request.message_ids_size() > 1000) {
    return Invalid("message_ids", "give 1 to 1000 message ids");
  }
  for (int i = 0; i < request.message_ids_size(); ++i) {
    if (request.message_ids(i).empty() || request.message_ids(i).size() > 256) {
      return Invalid(saga::StrCat("message_ids[", i, "]"), "must have 1 to 256 bytes");
    }
  }
  return ValidateReason(request.reason());
}

absl::Status ValidateRequest(const saga::v1::GetOverviewRequest& request) {
  if (request.has_window()) {
    const auto& w = request.window();
    if (w.nanos() != 0 || w.seconds() < 60 || w.seconds() > 7 * 24 * 3600) {
      return Invalid("window", "give whole seconds from 1 minute to 7 days, or leave it unset for "
                               "1 hour");
    }
  }
  if (request.buckets() < 0 || request.buckets() > 240) {
    return Invalid("buckets", "give 1 to 240, or 0 for 60");
  }
  return absl::OkStatus();
}

}  // namespace saga::services
