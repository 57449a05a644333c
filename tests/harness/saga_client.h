// Test clients of a sagad that may be down at times (crash tests): they retry until it answers.
#ifndef SAGA_TESTS_HARNESS_SAGA_CLIENT_H_
#define SAGA_TESTS_HARNESS_SAGA_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "saga/v1/saga_service.pb.h"
#include "saga/v1/tcc_service.pb.h"

namespace saga::testing {

// Starts `count` sagas through whatever channel `channel()` returns at the time, retrying each
// until sagad acknowledges it (the same idempotency key each time, so a start that reached
// sagad before a crash is not started twice). `request(i)` builds the i-th start and must set
// an idempotency key. Waits `spacing` between starts. Returns the ids acknowledged before
// `deadline`, in order.
std::vector<std::string> StartManyRetrying(
    const std::function<std::shared_ptr<grpc::Channel>()>& channel, int count,
    const std::function<saga::v1::StartSagaRequest(int)>& request, absl::Duration deadline,
    absl::Duration spacing = absl::ZeroDuration());

// RegisterBranch of branch `branch` of TCC transaction `gid`: Confirm and Cancel are
// /bank.Accounts/Confirm and /bank.Accounts/Cancel at `target`, the payload "amount=<branch>".
saga::v1::RegisterBranchRequest TccBranchRequest(const std::string& gid, const std::string& branch,
                                                 const std::string& target);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_SAGA_CLIENT_H_
