// Validation of API requests before anything runs: each function answers OK or
// INVALID_ARGUMENT whose message starts with the offending field and says what is expected.
// Handlers call these first, also those whose feature is not built yet, so callers learn about
// bad input at once. Pure functions; thread-safe.
#ifndef SAGA_SERVICES_REQUEST_VALIDATION_H_
#define SAGA_SERVICES_REQUEST_VALIDATION_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "saga/v1/admin_service.pb.h"
#include "saga/v1/saga_service.pb.h"
#include "saga/v1/tcc_service.pb.h"

namespace saga::services {

struct RequestLimits {
  // Largest step payload, TCC branch payload or outbox message payload.
  size_t max_payload_bytes = 1 << 20;
};

// Shared field rules.
absl::Status ValidateUuidField(std::string_view value, std::string_view field);
absl::Status ValidatePageSize(int page_size, std::string_view field = "page_size");
absl::Status ValidateReason(std::string_view reason, std::string_view field = "reason");
absl::Status ValidateIdempotencyKey(std::string_view key, std::string_view field = "idempotency_key");
absl::Status ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels,
                            std::string_view field = "labels");

// The page size to use: `page_size`, or 100 when 0. Call after ValidatePageSize.
int EffectivePageSize(int page_size);

// SagaService.
absl::Status ValidateRequest(const saga::v1::GetDefinitionRequest& request);
absl::Status ValidateRequest(const saga::v1::ListDefinitionsRequest& request);
absl::Status ValidateRequest(const saga::v1::StartSagaRequest& request,
                             const RequestLimits& limits);
absl::Status ValidateRequest(const saga::v1::GetSagaRequest& request);
absl::Status ValidateRequest(const saga::v1::ListSagasRequest& request);
absl::Status ValidateRequest(const saga::v1::WatchSagaRequest& request);
absl::Status ValidateRequest(const saga::v1::AbortSagaRequest& request);

// TccService.
absl::Status ValidateRequest(const saga::v1::BeginRequest& request);
absl::Status ValidateRequest(const saga::v1::RegisterBranchRequest& request,
                             const RequestLimits& limits);
absl::Status ValidateRequest(const saga::v1::CommitRequest& request);
absl::Status ValidateRequest(const saga::v1::RollbackRequest& request);
absl::Status ValidateRequest(const saga::v1::GetTransactionRequest& request);

// AdminService.
absl::Status ValidateRequest(const saga::v1::RetrySagaRequest& request);
absl::Status ValidateRequest(const saga::v1::ReplayCompensationRequest& request);
absl::Status ValidateRequest(const saga::v1::SkipStepRequest& request);
absl::Status ValidateRequest(const saga::v1::GetHistoryRequest& request);
absl::Status ValidateRequest(const saga::v1::ListQuarantinedRequest& request);
absl::Status ValidateRequest(const saga::v1::ListParkedRequest& request);
absl::Status ValidateRequest(const saga::v1::RequeueParkedRequest& request);
absl::Status ValidateRequest(const saga::v1::GetOverviewRequest& request);

}  // namespace saga::services

#endif  // SAGA_SERVICES_REQUEST_VALIDATION_H_
