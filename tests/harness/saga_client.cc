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

}  // namespace saga::testing
