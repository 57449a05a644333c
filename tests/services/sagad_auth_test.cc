// Authentication and transport security of the sagad binary (services/auth.h): with a tokens
// file, every service answers UNAUTHENTICATED without a token or with a bad one, and
// PERMISSION_DENIED to a client token on the admin actions and to a viewer token on anything
// but the reads (which it may make, AdminService's included); the actor of an abort is the token's
// name; no token reaches the log; a malformed tokens file stops sagad with the line to fix.
// With TLS and a client CA, the handshake succeeds with a client certificate that CA signed and
// fails without one or with one it did not sign. Certificates are made by the openssl CLI.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.grpc.pb.h"
#include "saga/v1/outbox_service.grpc.pb.h"
#include "saga/v1/saga_service.grpc.pb.h"
#include "saga/v1/tcc_service.grpc.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/child_process.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::SagadProcess;
using ::testing::HasSubstr;

constexpr char kClientToken[] = "client-token-5b7e0c2d9f41";
constexpr char kAdminToken[] = "admin-token-8e3a6f1c7d20";
constexpr char kViewerToken[] = "viewer-token-2d4f6a8c0e13";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class SagadAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    dir_ = std::filesystem::temp_directory_path() / ("sagad-auth-" + NewUuid().substr(0, 8));
    std::filesystem::create_directories(dir_);
    tokens_ = (dir_ / "tokens").string();
    std::ofstream(tokens_) << "# name role token\ncheckout client " << kClientToken
                           << "\noncall   admin  " << kAdminToken << "\ndashboards viewer "
                           << kViewerToken << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A context carrying `token` (none when empty), deadline 10 s.
  static std::unique_ptr<grpc::ClientContext> With(const std::string& token) {
    auto context = saga::testing::DeadlineContext();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  // Runs `openssl args...` in the test's directory; fails the test on a non-zero exit.
  void OpenSsl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto code = saga::testing::RunToCompletion(
        {.argv = args, .output_path = (dir_ / "openssl.log").string()}, absl::Seconds(60));
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << saga::testing::TailOfFile((dir_ / "openssl.log").string());
  }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }

  // A CA, a certificate for 127.0.0.1 signed by it, and a key and certificate named `name`
  // signed by `ca`.
  void MakeCa(const std::string& ca) {
    OpenSsl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=" + ca, "-keyout", Path(ca + ".key"), "-out", Path(ca + ".pem")});
  }
  void MakeCert(const std::string& name, const std::string& ca, bool server) {
    OpenSsl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
             Path(name + ".key"), "-out", Path(name + ".csr")});
    std::ofstream(Path(name + ".ext"))
        << (server ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                   : "extendedKeyUsage=clientAuth\n");
    OpenSsl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca + ".pem"), "-CAkey",
             Path(ca + ".key"), "-CAcreateserial", "-days", "2", "-extfile", Path(name + ".ext"),
             "-out", Path(name + ".pem")});
  }

  std::string dsn_, tokens_;
  std::filesystem::path dir_;
};

TEST_F(SagadAuthTest, EveryServiceRequiresAValidTokenAndTheAdminApiTheAdminRole) {
  auto sagad = SagadProcess::Start(dsn_, {"SAGAD_AUTH_TOKENS_FILE=" + tokens_});
  ASSERT_TRUE(sagad.ok()) << sagad.status();
  auto channel = (*sagad)->channel();
  auto sagas = saga::v1::SagaService::NewStub(channel);
  auto tcc = saga::v1::TccService::NewStub(channel);
  auto outbox = saga::v1::OutboxService::NewStub(channel);
  auto admin = saga::v1::AdminService::NewStub(channel);

  // One call per service, made with a given token; returns its status.
  using Call = std::function<grpc::Status(const std::string& token)>;
  const std::vector<std::pair<std::string, Call>> client_calls = {
      {"SagaService.ListDefinitions",
       [&](const std::string& token) {
         saga::v1::ListDefinitionsRequest request;
         saga::v1::ListDefinitionsResponse response;
         return sagas->ListDefinitions(With(token).get(), request, &response);
       }},
      {"SagaService.WatchSaga",
       [&](const std::string& token) {
         saga::v1::WatchSagaRequest request;
         request.set_saga_id(NewUuid());
         auto context = With(token);
         auto reader = sagas->WatchSaga(context.get(), request);
         saga::v1::WatchSagaResponse event;
         while (reader->Read(&event)) {
         }
         return reader->Finish();
       }},
      {"TccService.GetTransaction",
       [&](const std::string& token) {
         saga::v1::GetTransactionRequest request;
         request.set_global_id(NewUuid());
         saga::v1::GetTransactionResponse response;
         return tcc->GetTransaction(With(token).get(), request, &response);
       }},
      {"OutboxService.Publish",
       [&](const std::string& token) {
         saga::v1::PublishRequest request;
         auto* m = request.add_messages();
         m->set_topic("orders.events");
         m->set_key("k");
         m->set_payload("p");
         saga::v1::PublishResponse response;
         return outbox->Publish(With(token).get(), request, &response);
       }},
  };
  const Call admin_call = [&](const std::string& token) {
    saga::v1::RequeueParkedRequest request;
    request.add_message_ids("no-such-message");
    request.set_reason("auth test");
    saga::v1::RequeueParkedResponse response;
    return admin->RequeueParked(With(token).get(), request, &response);
  };
  // Reads of every service: the viewer role is enough.
  const std::vector<std::pair<std::string, Call>> reads = {
      client_calls[0], client_calls[1], client_calls[2],
      {"AdminService.ListQuarantined",
       [&](const std::string& token) {
         saga::v1::ListQuarantinedRequest request;
         saga::v1::ListQuarantinedResponse response;
         return admin->ListQuarantined(With(token).get(), request, &response);
       }},
      {"AdminService.GetOverview",
       [&](const std::string& token) {
         saga::v1::GetOverviewRequest request;
         saga::v1::GetOverviewResponse response;
         return admin->GetOverview(With(token).get(), request, &response);
       }},
  };

  for (const auto& [name, call] : client_calls) {
    grpc::Status none = call("");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
    EXPECT_THAT(none.error_message(), HasSubstr("authorization: Bearer")) << name;
    EXPECT_EQ(call("not-a-token-of-this-sagad").error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << name;
    const grpc::StatusCode expected = name == "TccService.GetTransaction"
                                          ? grpc::StatusCode::NOT_FOUND  // authorized, unknown id
                                      : name == "SagaService.WatchSaga"
                                          ? grpc::StatusCode::NOT_FOUND
                                          : grpc::StatusCode::OK;
    EXPECT_EQ(call(kClientToken).error_code(), expected) << name;
    EXPECT_EQ(call(kAdminToken).error_code(), expected) << name;
    const bool read = std::any_of(reads.begin(), reads.end(),
                                  [&](const auto& r) { return r.first == name; });
    if (!read) {
      grpc::Status viewer = call(kViewerToken);
      EXPECT_EQ(viewer.error_code(), grpc::StatusCode::PERMISSION_DENIED) << name;
      EXPECT_THAT(viewer.error_message(), HasSubstr("needs the role client")) << name;
    }
  }
  for (const auto& [name, call] : reads) {
    const grpc::StatusCode code = call(kViewerToken).error_code();
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::NOT_FOUND)
        << name << ": " << code;
    EXPECT_EQ(call("").error_code(), grpc::StatusCode::UNAUTHENTICATED) << name;
  }
  EXPECT_EQ(admin_call(kViewerToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(admin_call("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(admin_call("bad-token-0000000000").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status denied = admin_call(kClientToken);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("needs the role admin"));
  EXPECT_TRUE(admin_call(kAdminToken).ok());

  // The health check stays open for probes.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest health_request;
  grpc::health::v1::HealthCheckResponse health_response;
  EXPECT_TRUE(health->Check(With("").get(), health_request, &health_response).ok());

  // An abort records the caller's name as the actor.
  saga::testing::RecordingParticipant participant;
  participant.SetScript("/shop.S/slow", [](const auto&, int) {
    return saga::testing::Reply{absl::OkStatus(), absl::Seconds(20)};
  });
  saga::v1::RegisterDefinitionRequest reg;
  reg.mutable_definition()->set_name("slow");
  auto* step = reg.mutable_definition()->add_steps();
  step->set_name("slow");
  step->mutable_action()->mutable_grpc()->set_target(participant.target());
  step->mutable_action()->mutable_grpc()->set_method("/shop.S/slow");
  saga::v1::RegisterDefinitionResponse registered;
  ASSERT_TRUE(sagas->RegisterDefinition(With(kClientToken).get(), reg, &registered).ok());
  saga::v1::StartSagaRequest start;
  start.set_definition_name("slow");
  saga::v1::StartSagaResponse started;
  ASSERT_TRUE(sagas->StartSaga(With(kClientToken).get(), start, &started).ok());
  saga::v1::AbortSagaRequest abort;
  abort.set_saga_id(started.saga().saga_id());
  abort.set_reason("customer cancelled");
  saga::v1::AbortSagaResponse aborted;
  ASSERT_TRUE(sagas->AbortSaga(With(kClientToken).get(), abort, &aborted).ok());
  saga::v1::GetHistoryRequest history_request;
  history_request.set_saga_id(started.saga().saga_id());
  saga::v1::GetHistoryResponse history;
  ASSERT_TRUE(admin->GetHistory(With(kAdminToken).get(), history_request, &history).ok());
  bool found = false;
  for (const auto& e : history.events()) {
    if (e.type() == saga::v1::SagaEvent::TYPE_SAGA_ABORTED) {
      found = true;
      EXPECT_EQ(e.actor(), "checkout");
      EXPECT_EQ(e.reason(), "customer cancelled");
    }
  }
  EXPECT_TRUE(found);

  const std::string log = (*sagad)->log();
  EXPECT_THAT(log, HasSubstr("bearer tokens required"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr(kClientToken)));
  EXPECT_THAT(log, ::testing::Not(HasSubstr(kAdminToken)));
}

TEST_F(SagadAuthTest, AMalformedTokensFileStopsSagadNamingTheLine) {
  std::ofstream(tokens_) << "checkout client " << kClientToken << "\nops superuser "
                         << kAdminToken << "\n";
  std::string output;
  auto code = SagadProcess::Run(dsn_, {"serve"}, &output, {"SAGAD_AUTH_TOKENS_FILE=" + tokens_});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0);
  EXPECT_THAT(output, HasSubstr("line 2"));
  EXPECT_THAT(output, HasSubstr("is not viewer, client or admin"));
  EXPECT_THAT(output, ::testing::Not(HasSubstr(kAdminToken)));
}

TEST_F(SagadAuthTest, ATokensFileChangedInPlaceTakesEffectWithoutARestart) {
  auto sagad = SagadProcess::Start(
      dsn_, {"SAGAD_AUTH_TOKENS_FILE=" + tokens_, "SAGAD_AUTH_RELOAD_INTERVAL=200ms"});
  ASSERT_TRUE(sagad.ok()) << sagad.status();
  auto sagas = saga::v1::SagaService::NewStub((*sagad)->channel());
  auto code = [&](const std::string& token) {
    saga::v1::ListDefinitionsRequest request;
    saga::v1::ListDefinitionsResponse response;
    return sagas->ListDefinitions(With(token).get(), request, &response).error_code();
  };
  // As a Kubernetes Secret volume is updated: a new file renamed over the old one.
  auto replace_tokens = [&](const std::string& text) {
    const std::string next = tokens_ + ".next";
    std::ofstream(next) << text;
    std::filesystem::rename(next, tokens_);
  };
  constexpr char kRotatedToken[] = "rotated-token-0c4d2e9b7a15";
  ASSERT_EQ(code(kClientToken), grpc::StatusCode::OK);
  ASSERT_EQ(code(kRotatedToken), grpc::StatusCode::UNAUTHENTICATED);

  // The client token is rotated: the new one works, the old one no longer.
  replace_tokens(saga::StrCat("checkout client ", kRotatedToken, "\noncall admin ", kAdminToken,
                              "\n"));
  EXPECT_TRUE(saga::testing::WaitFor([&] { return code(kRotatedToken) == grpc::StatusCode::OK; },
                                     absl::Seconds(10)));
  EXPECT_EQ(code(kClientToken), grpc::StatusCode::UNAUTHENTICATED);

  // A malformed version is refused with the line to fix; the tokens in force stay.
  replace_tokens(saga::StrCat("checkout client ", kClientToken, "\nops superuser ", kAdminToken,
                              "\n"));
  EXPECT_TRUE(saga::testing::WaitFor(
      [&] { return (*sagad)->log().find("previous tokens stay in force") != std::string::npos; },
      absl::Seconds(10)));
  EXPECT_EQ(code(kRotatedToken), grpc::StatusCode::OK);
  EXPECT_EQ(code(kClientToken), grpc::StatusCode::UNAUTHENTICATED);

  const std::string log = (*sagad)->log();
  EXPECT_THAT(log, HasSubstr("bearer tokens reloaded"));
  EXPECT_THAT(log, HasSubstr("line 2: role \\\"superuser\\\" is not viewer, client or admin"));
  for (const char* token : {kClientToken, kAdminToken, kRotatedToken}) {
    EXPECT_THAT(log, ::testing::Not(HasSubstr(token)));
  }
}

TEST_F(SagadAuthTest, MutualTlsAcceptsOnlyClientCertificatesItsCaSigned) {
  ASSERT_NO_FATAL_FAILURE(MakeCa("ca"));
  ASSERT_NO_FATAL_FAILURE(MakeCa("other-ca"));
  ASSERT_NO_FATAL_FAILURE(MakeCert("server", "ca", /*server=*/true));
  ASSERT_NO_FATAL_FAILURE(MakeCert("client", "ca", /*server=*/false));
  ASSERT_NO_FATAL_FAILURE(MakeCert("stranger", "other-ca", /*server=*/false));

  auto tls = [&](const std::string& client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(Path("ca.pem"));
    if (!client.empty()) {
      options.pem_private_key = ReadFile(Path(client + ".key"));
      options.pem_cert_chain = ReadFile(Path(client + ".pem"));
    }
    return grpc::SslCredentials(options);
  };
  auto sagad = SagadProcess::Start(
      dsn_,
      {"SAGAD_TLS_CERT_FILE=" + Path("server.pem"), "SAGAD_TLS_KEY_FILE=" + Path("server.key"),
       "SAGAD_TLS_CLIENT_CA_FILE=" + Path("ca.pem")},
      tls("client"));
  ASSERT_TRUE(sagad.ok()) << sagad.status();
  const std::string target = saga::StrCat("127.0.0.1:", (*sagad)->grpc_port());
  auto list = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto stub = saga::v1::SagaService::NewStub(grpc::CreateChannel(target, credentials));
    saga::v1::ListDefinitionsRequest request;
    saga::v1::ListDefinitionsResponse response;
    return stub->ListDefinitions(saga::testing::DeadlineContext(absl::Seconds(5)).get(), request,
                                 &response);
  };
  EXPECT_TRUE(list(tls("client")).ok());
  EXPECT_EQ(list(tls("")).error_code(), grpc::StatusCode::UNAVAILABLE);  // no client certificate
  EXPECT_EQ(list(tls("stranger")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(list(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);  // plaintext to a TLS port
  EXPECT_THAT((*sagad)->log(), HasSubstr("\"mutual\":\"yes\""));
}

}  // namespace
}  // namespace saga
