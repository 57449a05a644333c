// The HTTP API and the console's files, end to end (the sagad binary, real PostgreSQL, real
// sagas; tests/web/console_world.h): each answer is the gRPC method's, in the protobuf JSON
// mapping, with the same authentication and roles; the overview's counts match what listing
// every saga finds; bad requests get the right HTTP status and a saga.v1.HttpError saying what
// to fix, and change nothing; the console is served with its safety headers.
#include <httplib.h>

#include <algorithm>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/http_api.pb.h"
#include "absl/time/clock.h"
#include "tests/harness/wait.h"
#include "sdk/base/strings.h"
#include "tests/web/console_world.h"

namespace saga {
namespace {

using ::saga::testing::ConsoleWorld;
using ::saga::testing::kAdminToken;
using ::saga::testing::kClientToken;
using ::saga::testing::kViewerToken;
using ::testing::HasSubstr;

class SagadHttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world_ = new ConsoleWorld();
    absl::Status started = world_->Start(/*completed=*/6, /*compensated=*/4);
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() { delete world_; }

  struct Answer {
    int status = 0;
    std::string body;
    httplib::Headers headers;
  };

  static Answer Post(const std::string& method, const std::string& json, const std::string& token,
                     const std::string& content_type = "application/json") {
    httplib::Client client(world_->http_base());
    client.set_read_timeout(30, 0);
    httplib::Headers headers = {{"Accept-Encoding", "gzip, deflate, br"}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto result = client.Post(("/api/" + method).c_str(), headers, json, content_type.c_str());
    if (!result) return {};
    return {result->status, result->body, result->headers};
  }

  // Posts and parses the answer into `response` (or the HttpError), expecting `status`.
  template <typename Message>
  static Message Call(const std::string& method, const std::string& json,
                      const std::string& token, int status = 200) {
    Answer answer = Post(method, json, token);
    EXPECT_EQ(answer.status, status) << method << ": " << answer.body;
    Message message;
    auto parsed = google::protobuf::util::JsonStringToMessage(answer.body, &message);
    EXPECT_TRUE(parsed.ok()) << answer.body;
    return message;
  }

  static ConsoleWorld* world_;
};

ConsoleWorld* SagadHttpApiTest::world_ = nullptr;

TEST_F(SagadHttpApiTest, TheOverviewCountsWhatListingEverySagaFinds) {
  auto listed = world_->CountByListing();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ((*listed)[saga::v1::SAGA_STATE_COMPLETED], 6);
  EXPECT_EQ((*listed)[saga::v1::SAGA_STATE_COMPENSATED], 4);
  EXPECT_EQ((*listed)[saga::v1::SAGA_STATE_QUARANTINED], 1);

  auto overview = Call<saga::v1::GetOverviewResponse>("saga.v1.AdminService/GetOverview",
                                                      R"({"window": "600s", "buckets": 20})",
                                                      kViewerToken);
  std::map<saga::v1::SagaState, int> counted;
  for (const auto& c : overview.counts()) {
    EXPECT_EQ(c.definition_name(), "order");
    counted[c.state()] += static_cast<int>(c.count());
  }
  EXPECT_EQ(counted, *listed);
  EXPECT_EQ(overview.quarantined(), 1u);
  // Every saga started within the window; each completed or compensated one ended in it.
  ASSERT_EQ(overview.throughput_size(), 20);
  uint64_t started = 0, completed = 0, compensated = 0, quarantined = 0;
  for (const auto& b : overview.throughput()) {
    started += b.started();
    completed += b.completed();
    compensated += b.compensated();
    quarantined += b.quarantined();
  }
  EXPECT_EQ(started, 11u);
  EXPECT_EQ(completed, 6u);
  EXPECT_EQ(compensated, 4u);
  EXPECT_EQ(quarantined, 1u);
  // The buckets are 30 s apart and end at the read time.
  EXPECT_EQ(overview.throughput(1).start_time().seconds() -
                overview.throughput(0).start_time().seconds(),
            30);
  EXPECT_NEAR(overview.throughput(19).start_time().seconds() + 30,
              overview.read_time().seconds(), 1);
  EXPECT_EQ(overview.parked_messages(), 0u);
}

TEST_F(SagadHttpApiTest, AnswersAreTheGrpcMessagesInTheProtobufJsonMapping) {
  // Fields at their default are printed; enums by name; bytes in base64; int64 as strings.
  Answer raw = Post("saga.v1.SagaService/ListSagas",
                    R"({"states": ["SAGA_STATE_COMPENSATED"], "errorContains": "NO CARRIER"})",
                    kViewerToken);
  ASSERT_EQ(raw.status, 200) << raw.body;
  auto type = raw.headers.find("Content-Type");
  ASSERT_NE(type, raw.headers.end());
  EXPECT_EQ(type->second, "application/json; charset=utf-8");
  // Not compressed, though the caller accepts it as a browser does (brotli took longer than the
  // call itself).
  EXPECT_EQ(raw.headers.count("Content-Encoding"), 0u);
  EXPECT_THAT(raw.body, HasSubstr(R"("state":"SAGA_STATE_COMPENSATED")"));
  EXPECT_THAT(raw.body, HasSubstr(R"("nextPageToken":"")"));
  saga::v1::ListSagasResponse compensated;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(raw.body, &compensated).ok());
  EXPECT_EQ(compensated.sagas_size(), 4);  // the error filter is case-insensitive
  for (const auto& s : compensated.sagas()) EXPECT_THAT(s.error(), HasSubstr("no carrier"));
  auto none = Call<saga::v1::ListSagasResponse>(
      "saga.v1.SagaService/ListSagas", R"({"errorContains": "no such error"})", kViewerToken);
  EXPECT_EQ(none.sagas_size(), 0);

  // GetSaga carries the payloads it started with.
  auto got = Call<saga::v1::GetSagaResponse>(
      "saga.v1.SagaService/GetSaga",
      saga::StrCat(R"({"sagaId": ")", world_->quarantined_id(), R"("})"), kViewerToken);
  EXPECT_EQ(got.saga().state(), saga::v1::SAGA_STATE_QUARANTINED);
  EXPECT_EQ(got.payloads().at("reserve"), R"({"sku":"A-17","quantity":2})");
  EXPECT_EQ(got.payloads().at("ship"), "quarantine");

  auto me = Call<saga::v1::WhoAmIResponse>("saga.v1.AdminService/WhoAmI", "", kViewerToken);
  EXPECT_EQ(me.name(), "dashboards");
  EXPECT_EQ(me.role(), "viewer");
  EXPECT_TRUE(me.authentication());
  EXPECT_EQ(Call<saga::v1::WhoAmIResponse>("saga.v1.AdminService/WhoAmI", "{}", kAdminToken)
                .role(),
            "admin");
}

TEST_F(SagadHttpApiTest, TheSameAuthenticationAndRolesAsGrpc) {
  auto unauthenticated = Call<saga::v1::HttpError>("saga.v1.AdminService/GetOverview", "{}", "",
                                                   401);
  EXPECT_EQ(unauthenticated.code(), "UNAUTHENTICATED");
  EXPECT_THAT(unauthenticated.message(), HasSubstr("authorization: Bearer"));
  EXPECT_EQ(Call<saga::v1::HttpError>("saga.v1.AdminService/GetOverview", "{}",
                                      "not-a-token-of-this-sagad", 401)
                .code(),
            "UNAUTHENTICATED");

  // A viewer reads but acts on nothing, and nothing changes.
  const std::string retry = saga::StrCat(R"({"sagaId": ")", world_->quarantined_id(),
                                         R"(", "reason": "viewer tries"})");
  auto denied = Call<saga::v1::HttpError>("saga.v1.AdminService/RetrySaga", retry, kViewerToken,
                                          403);
  EXPECT_EQ(denied.code(), "PERMISSION_DENIED");
  EXPECT_THAT(denied.message(), HasSubstr("needs the role admin"));
  EXPECT_EQ(Call<saga::v1::HttpError>("saga.v1.AdminService/RetrySaga", retry, kClientToken, 403)
                .code(),
            "PERMISSION_DENIED");
  EXPECT_EQ(Call<saga::v1::HttpError>("saga.v1.SagaService/StartSaga",
                                      R"({"definitionName": "order"})", kViewerToken, 403)
                .code(),
            "PERMISSION_DENIED");
  auto listed = world_->CountByListing();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[saga::v1::SAGA_STATE_QUARANTINED], 1);
  int sagas = 0;
  for (const auto& [state, n] : *listed) sagas += n;
  EXPECT_EQ(sagas, 11);  // the viewer's StartSaga wrote nothing

  // Over gRPC too: the viewer role reads and is refused the writes.
  saga::v1::StartSagaRequest start;
  start.set_definition_name("order");
  saga::v1::StartSagaResponse started;
  EXPECT_EQ(world_->sagas().StartSaga(ConsoleWorld::With(kViewerToken).get(), start, &started)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  saga::v1::GetHistoryRequest history;
  history.set_saga_id(world_->quarantined_id());
  saga::v1::GetHistoryResponse events;
  EXPECT_TRUE(
      world_->admin().GetHistory(ConsoleWorld::With(kViewerToken).get(), history, &events).ok());
  EXPECT_GT(events.events_size(), 0);
}

TEST_F(SagadHttpApiTest, BadRequestsSayWhatToFixAndChangeNothing) {
  struct Case {
    std::string method, body, content_type;
    int status;
    std::string code, message;
  };
  const std::string quarantined = world_->quarantined_id();
  const std::vector<Case> cases = {
      {"saga.v1.SagaService/GetSaga", "{not json", "application/json", 400, "INVALID_ARGUMENT",
       "not a JSON saga.v1.GetSagaRequest"},
      {"saga.v1.SagaService/GetSaga", R"({"sagaID": "x"})", "application/json", 400,
       "INVALID_ARGUMENT", "sagaID"},
      {"saga.v1.SagaService/GetSaga", R"({"sagaId": "not-a-uuid"})", "application/json", 400,
       "INVALID_ARGUMENT", "saga_id"},
      {"saga.v1.SagaService/GetSaga", R"({"sagaId": "7f1c9a52-3a0e-4c1b-9d2f-5b6a7c8d9e0f"})",
       "application/json", 404, "NOT_FOUND", "no saga has id"},
      {"saga.v1.AdminService/GetOverview", R"({"window": "5s"})", "application/json", 400,
       "INVALID_ARGUMENT", "window"},
      {"saga.v1.AdminService/RetrySaga", saga::StrCat(R"({"sagaId": ")", quarantined, R"("})"),
       "application/json", 400, "INVALID_ARGUMENT", "reason"},
      {"saga.v1.SagaService/ListSagas", saga::StrCat(R"({"errorContains": ")",
                                                     std::string(300, 'x'), R"("})"),
       "application/json", 400, "INVALID_ARGUMENT", "error_contains"},
      {"saga.v1.SagaService/WatchSaga", "{}", "application/json", 501, "UNIMPLEMENTED",
       "WatchSaga is gRPC only"},
      {"saga.v1.SagaService/NoSuchMethod", "{}", "application/json", 501, "UNIMPLEMENTED",
       "POST /api/<service>/<method>"},
      {"grpc.health.v1.Health/Check", "{}", "application/json", 501, "UNIMPLEMENTED", ""},
      {"saga.v1.AdminService/GetOverview", "{}", "text/plain", 400, "INVALID_ARGUMENT",
       "Content-Type: application/json"},
  };
  for (const Case& c : cases) {
    Answer answer = Post(c.method, c.body, kAdminToken, c.content_type);
    EXPECT_EQ(answer.status, c.status) << c.method << " " << c.body << ": " << answer.body;
    saga::v1::HttpError error;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(answer.body, &error).ok())
        << answer.body;
    EXPECT_EQ(error.code(), c.code) << c.method << " " << c.body;
    EXPECT_THAT(error.message(), HasSubstr(c.message)) << c.method << " " << c.body;
  }
  EXPECT_EQ(world_->WaitForState(quarantined, saga::v1::SAGA_STATE_QUARANTINED).state(),
            saga::v1::SAGA_STATE_QUARANTINED);
}

TEST_F(SagadHttpApiTest, TheConsoleIsServedWithItsSafetyHeaders) {
  httplib::Client client(world_->http_base());
  auto root = client.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/console/");

  auto index = client.Get("/console/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(index->body, HasSubstr(R"(<script type="module" src="app.js">)"));
  EXPECT_THAT(index->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_EQ(index->get_header_value("X-Content-Type-Options"), "nosniff");

  for (const char* file : {"app.js", "api.js", "overview.js", "sagas.js", "saga.js",
                           "timeline.js", "definition.js", "parked.js", "actions.js", "dom.js"}) {
    auto js = client.Get(saga::StrCat("/console/", file).c_str());
    ASSERT_TRUE(js) << file;
    EXPECT_EQ(js->status, 200) << file;
    EXPECT_THAT(js->get_header_value("Content-Type"), HasSubstr("text/javascript")) << file;
  }
  // The files are revalidated, not fetched again.
  const std::string etag = index->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(index->get_header_value("Cache-Control"), "no-cache");
  auto again = client.Get("/console/", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());

  auto css = client.Get("/console/console.css");
  ASSERT_TRUE(css);
  EXPECT_THAT(css->get_header_value("Content-Type"), HasSubstr("text/css"));
  auto missing = client.Get("/console/missing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // The API is POST only: a cross-site GET (an <img>, a link) reaches nothing.
  auto get_api = client.Get("/api/saga.v1.AdminService/WhoAmI");
  ASSERT_TRUE(get_api);
  EXPECT_EQ(get_api->status, 404);
}

// Last: it adds sagas. Calls that wait (StartSaga with wait_for_completion) take at most 24 of
// the HTTP threads; the next is refused at once, and the probes are still answered.
TEST_F(SagadHttpApiTest, WaitingCallsNeverStarveTheProbes) {
  const std::string slow = R"({"definitionName": "order", "waitForCompletion": true,
                               "payloads": {"reserve": "c2xvdw==", "ship": "b2s="}})";  // slow, ok
  std::vector<int> statuses(30);
  std::vector<std::thread> callers;
  for (int i = 0; i < 30; ++i) {
    callers.emplace_back([&, i] {
      statuses[i] = Post("saga.v1.SagaService/StartSaga", slow, kClientToken).status;
    });
  }
  // The admitted calls' sagas are all waiting in their slow reservation.
  ASSERT_TRUE(saga::testing::WaitFor(
      [&] {
        int waiting = 0;
        for (const auto& call : world_->participant().calls()) {
          waiting += call.method == "/shop.S/reserve" && call.payload == "slow";
        }
        return waiting >= 24;
      },
      absl::Seconds(10)));
  httplib::Client probe(world_->http_base());
  probe.set_read_timeout(2, 0);
  const absl::Time start = absl::Now();
  auto health = probe.Get("/healthz");
  auto metrics = probe.Get("/metrics");
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  for (auto& c : callers) c.join();
  const int ok = static_cast<int>(std::count(statuses.begin(), statuses.end(), 200));
  const int refused = static_cast<int>(std::count(statuses.begin(), statuses.end(), 429));
  EXPECT_EQ(ok, 24);
  EXPECT_EQ(refused, 6);
  EXPECT_EQ(ok + refused, 30);
  Answer refusal = Post("saga.v1.AdminService/WhoAmI", "{}", kViewerToken);  // all done: served
  EXPECT_EQ(refusal.status, 200) << refusal.body;
}

}  // namespace
}  // namespace saga
