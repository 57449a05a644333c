#include "tests/harness/sagad_process.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/sanitizer_reports.h"
#include "tests/harness/wait.h"

namespace saga::testing {
namespace {

bool Has(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& e : env) {
    if (e.rfind(name + "=", 0) == 0) return true;
  }
  return false;
}

std::string NewLogPath() {
  return (std::filesystem::temp_directory_path() / ("sagad-" + NewUuid().substr(0, 8) + ".log"))
      .string();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SagadProcess>> SagadProcess::Start(
    const std::string& pg_dsn, std::vector<std::string> env,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  std::unique_ptr<SagadProcess> sagad(new SagadProcess());
  sagad->grpc_port_ = PickFreePort();
  sagad->http_port_ = PickFreePort();
  if (!Has(env, "SAGAD_PG_DSN")) env.push_back("SAGAD_PG_DSN=" + pg_dsn);
  if (!Has(env, "SAGAD_GRPC_ADDR")) {
    env.push_back(saga::StrCat("SAGAD_GRPC_ADDR=127.0.0.1:", sagad->grpc_port_));
  } else {
    for (const auto& e : env) {  // the caller chose the port (a restart on the same address)
      if (e.rfind("SAGAD_GRPC_ADDR=", 0) == 0) {
        sagad->grpc_port_ = std::atoi(e.substr(e.rfind(':') + 1).c_str());
      }
    }
  }
  if (!Has(env, "SAGAD_HTTP_ADDR")) {
    env.push_back(saga::StrCat("SAGAD_HTTP_ADDR=127.0.0.1:", sagad->http_port_));
  }
  sagad->log_path_ = NewLogPath();
  auto child = ChildProcess::Spawn(
      {.argv = {SAGAD_BINARY, "serve"}, .env = env, .output_path = sagad->log_path_});
  if (!child.ok()) return child.status();
  sagad->process_ = *std::move(child);
  // The channel is made once sagad listens: a channel that failed to connect first waits out
  // gRPC's reconnect backoff, which would make every start take seconds.
  WaitFor([&] { return !sagad->process_->Running() || PortAcceptsConnections(sagad->grpc_port_); },
          absl::Seconds(30), absl::Milliseconds(10));
  sagad->channel_ = grpc::CreateChannel(
      saga::StrCat("127.0.0.1:", sagad->grpc_port_),
      credentials != nullptr ? credentials : grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(sagad->channel_);
  bool serving = WaitFor(
      [&] {
        if (!sagad->process_->Running()) return true;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
        grpc::health::v1::HealthCheckRequest request;
        grpc::health::v1::HealthCheckResponse response;
        return health->Check(&context, request, &response).ok() &&
               response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(30), absl::Milliseconds(20));
  if (!serving || !sagad->process_->Running()) {
    return absl::UnavailableError(
        saga::StrCat("sagad did not start serving: ", TailOfFile(sagad->log_path_)));
  }
  return sagad;
}

absl::StatusOr<int> SagadProcess::Run(const std::string& pg_dsn,
                                      const std::vector<std::string>& args, std::string* output,
                                      std::vector<std::string> env) {
  if (!Has(env, "SAGAD_PG_DSN")) env.push_back("SAGAD_PG_DSN=" + pg_dsn);
  std::vector<std::string> argv = {SAGAD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string log_path = NewLogPath();
  auto code = RunToCompletion({.argv = argv, .env = env, .output_path = log_path},
                              absl::Seconds(60));
  if (output != nullptr) *output = TailOfFile(log_path, 1 << 20);
  ExpectNoSanitizerReport(log_path, "sagad " + (args.empty() ? std::string() : args[0]));
  std::filesystem::remove(log_path);
  return code;
}

SagadProcess::~SagadProcess() {
  process_.reset();  // kills it if still running
  // A sanitizer report fails the test. The log stays when the test failed, for reading.
  ExpectNoSanitizerReport(log_path_, "sagad");
  if (::testing::Test::HasFailure()) {
    std::cerr << "[harness] the test failed: sagad's log is kept in " << log_path_ << "\n";
  } else {
    std::filesystem::remove(log_path_);
  }
}

std::string SagadProcess::log() const { return TailOfFile(log_path_, 1 << 20); }

absl::StatusOr<int> SagadProcess::Terminate(absl::Duration timeout) {
  process_->Signal(SIGTERM);
  return process_->Wait(timeout);
}

std::unique_ptr<grpc::ClientContext> DeadlineContext(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::StatusOr<std::string> NewDatabaseMigratedBySagad() {
  auto dsn = SharedPostgres().CreateFreshDatabase();
  if (!dsn.ok()) return dsn.status();
  std::string output;
  auto code = SagadProcess::Run(*dsn, {"migrate"}, &output);
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(saga::StrCat("sagad migrate exited with ", *code, ": ", output));
  }
  return *dsn;
}

std::vector<std::string> CrashTestSettings(int grpc_port) {
  std::vector<std::string> env = {"SAGAD_LEASE_TTL=1s", "SAGAD_SHUTDOWN_GRACE=0s"};
  if (grpc_port != 0) env.push_back(saga::StrCat("SAGAD_GRPC_ADDR=127.0.0.1:", grpc_port));
  return env;
}

}  // namespace saga::testing
