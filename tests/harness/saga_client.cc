#include "tests/harness/saga_client.h"

#include "saga/v1/saga_service.grpc.pb.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga::testing {

std::vector<std::string> StartManyRetrying(
    const std::function<std::shared_ptr<grpc::Channel>()>& channel, int count,
    const std::function<saga::v1::StartSagaRequest(int)>& request, absl::Duration deadline,
    absl::Duration spacing) {
  std::vector<std::string> ids;
  const absl::Time give_up = absl::Now() + deadline;
  for (int i = 0; i < count && absl::Now() < give_up; ++i) {
    if (i > 0 && spacing > absl::ZeroDuration()) Pause(spacing);
    const saga::v1::StartSagaRequest start = request(i);
    for (;;) {
      auto stub = saga::v1::SagaService::NewStub(channel());
      saga::v1::StartSagaResponse started;
      grpc::Status status =
          stub->StartSaga(DeadlineContext(absl::Seconds(5)).get(), start, &started);
      if (status.ok()) {
        ids.push_back(started.saga().saga_id());
        break;
      }
      if (absl::Now() > give_up) break;
      Pause(absl::Milliseconds(20));  // sagad is down: back off, then retry
    }
  }
  return ids;
}

saga::v1::RegisterBranchRequest TccBranchRequest(const std::string& gid, const std::string& branch,
                                                 const std::string& target) {
  saga::v1::RegisterBranchRequest request;
  request.set_global_id(gid);
  request.set_branch_id(branch);
  request.mutable_confirm()->mutable_grpc()->set_target(target);
  request.mutable_confirm()->mutable_grpc()->set_method("/bank.Accounts/Confirm");
  request.mutable_cancel()->mutable_grpc()->set_target(target);
  request.mutable_cancel()->mutable_grpc()->set_method("/bank.Accounts/Cancel");
  request.set_payload("amount=" + branch);
  return request;
}

}  // namespace saga::testing
