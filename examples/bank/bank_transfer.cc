// bank_transfer: runs one money transfer of the example as a TCC transaction (transfer.h) and
// prints its global id and decision; GetTransaction shows how sagad drove it.
//
//   bank_transfer --sagad 127.0.0.1:50051 --from 127.0.0.1:7101/acct-1
//                 --to 127.0.0.1:7102/acct-2 --amount_cents 500 [--key transfer-1]
#include <iostream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bank/transfer.h"
#include "sdk/base/uuid.h"

ABSL_FLAG(std::string, sagad, "127.0.0.1:50051", "sagad's gRPC address");
ABSL_FLAG(std::string, from, "", "the payer: <account service host:port>/<account>");
ABSL_FLAG(std::string, to, "", "the payee: <account service host:port>/<account>");
ABSL_FLAG(int64_t, amount_cents, 0, "the amount, in cents");
ABSL_FLAG(std::string, key, "", "the transfer's idempotency key (default: a new UUID)");

namespace {

bool Split(const std::string& where, std::string* target, std::string* account) {
  const size_t slash = where.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == where.size()) return false;
  *target = where.substr(0, slash);
  *account = where.substr(slash + 1);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bank::TransferRequest request;
  request.idempotency_key = absl::GetFlag(FLAGS_key).empty() ? saga::NewUuid()
                                                             : absl::GetFlag(FLAGS_key);
  request.amount_cents = absl::GetFlag(FLAGS_amount_cents);
  if (!Split(absl::GetFlag(FLAGS_from), &request.from_target, &request.from_account) ||
      !Split(absl::GetFlag(FLAGS_to), &request.to_target, &request.to_account)) {
    std::cerr << "bank_transfer: --from and --to take <host:port>/<account>\n";
    return 2;
  }
  auto insecure = grpc::InsecureChannelCredentials();
  auto tcc = saga::v1::TccService::NewStub(grpc::CreateChannel(absl::GetFlag(FLAGS_sagad), insecure));
  auto from = bank::v1::Accounts::NewStub(grpc::CreateChannel(request.from_target, insecure));
  auto to = bank::v1::Accounts::NewStub(grpc::CreateChannel(request.to_target, insecure));
  auto result = bank::Transfer(*tcc, *from, *to, request);
  if (!result.ok()) {
    std::cerr << "bank_transfer: " << result.status() << "\n";
    return 1;
  }
  std::cout << "{\"global_id\":\"" << result->global_id << "\",\"decision\":\""
            << (result->decision == bank::TransferResult::Decision::kCommit ? "COMMIT" : "ROLLBACK")
            << "\"}\n";
  if (!result->refusal.empty()) std::cerr << "refused: " << result->refusal << "\n";
  return 0;
}
