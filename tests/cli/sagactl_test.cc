// sagactl against a real sagad (real PostgreSQL, a loopback participant recording its effects):
// an operator registers a definition from a text-format file, finds the saga quarantined
// because a participant's compensation kept failing, dry-runs the replay, fixes the
// participant, replays, and sees the saga COMPENSATED with exactly the dry run's compensations
// and the replay (who and why) in its history. Exit codes scripts rely on: 0, 2 for a usage
// error, 10 + the gRPC code when sagad refuses (15 NOT_FOUND, 26 UNAUTHENTICATED).
#include <filesystem>
#include <fstream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "saga/v1/admin_service.pb.h"
#include "saga/v1/saga.pb.h"
#include "sdk/base/strings.h"
#include "sdk/base/uuid.h"
#include "tests/fakes/recording_participant.h"
#include "tests/harness/child_process.h"
#include "tests/harness/sagad_process.h"
#include "tests/harness/wait.h"

namespace saga {
namespace {

using ::saga::testing::ParticipantCall;
using ::saga::testing::Reply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAdminToken[] = "oncall-token-4d1c9e77a2b0";

struct Ran {
  int code = -1;
  std::string output;
};

class SagactlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sagactl-" + NewUuid().substr(0, 8));
    std::filesystem::create_directories(dir_);
    std::ofstream((dir_ / "tokens").string()) << "alice admin " << kAdminToken << "\n";
    auto dsn = saga::testing::NewDatabaseMigratedBySagad();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    auto sagad = saga::testing::SagadProcess::Start(
        *dsn, {"SAGAD_AUTH_TOKENS_FILE=" + (dir_ / "tokens").string()});
    ASSERT_TRUE(sagad.ok()) << sagad.status();
    sagad_ = *std::move(sagad);
    participant_.SetScript("/shop.S/undo_charge", [this](const ParticipantCall&, int) {
      return fixed_ ? Reply{} : Reply{absl::UnavailableError("refunds database is down")};
    });
    participant_.SetScript("/shop.S/ship", [](const ParticipantCall&, int) {
      return Reply{absl::FailedPreconditionError("no carrier")};
    });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs sagactl with `args` against the test's sagad, as alice unless `token` says otherwise.
  Ran Sagactl(std::vector<std::string> args, const std::string& token = kAdminToken) {
    const std::string out = (dir_ / ("out-" + NewUuid().substr(0, 8))).string();
    args.insert(args.begin(), SAGACTL);
    std::vector<std::string> env = {saga::StrCat("SAGAD_ADDR=127.0.0.1:", sagad_->grpc_port())};
    if (!token.empty()) env.push_back("SAGAD_TOKEN=" + token);
    auto code = saga::testing::RunToCompletion({.argv = args, .env = env, .output_path = out},
                                               absl::Seconds(60));
    EXPECT_TRUE(code.ok()) << code.status();
    std::ifstream file(out);
    std::stringstream text;
    text << file.rdbuf();
    return {code.ok() ? *code : -1, text.str()};
  }

  std::filesystem::path dir_;
  std::atomic<bool> fixed_{false};
  saga::testing::RecordingParticipant participant_;
  std::unique_ptr<saga::testing::SagadProcess> sagad_;
};

TEST_F(SagactlTest, AnOperatorReplaysAQuarantinedSagaToCompensated) {
  const std::string definition = (dir_ / "order.textproto").string();
  std::ofstream file(definition);
  file << "name: \"order\"\n"
       << "default_retry_policy { initial_backoff { nanos: 10000000 } "
          "max_backoff { nanos: 20000000 } max_attempts: 3 }\n";
  std::string previous;
  for (std::string step : {"reserve", "charge", "ship"}) {
    file << "steps { name: \"" << step << "\" "
         << "action { grpc { target: \"" << participant_.target() << "\" method: \"/shop.S/"
         << step << "\" } } compensation { grpc { target: \"" << participant_.target()
         << "\" method: \"/shop.S/undo_" << step << "\" } } "
         << (previous.empty() ? "" : "depends_on: \"" + previous + "\" ") << "}\n";
    previous = step;
  }
  file.close();
  Ran ran = Sagactl({"register", definition});
  ASSERT_EQ(ran.code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("order version 1 registered"));

  ran = Sagactl({"start", "order", "--wait", "--output", "json"});
  ASSERT_EQ(ran.code, 0) << ran.output;
  saga::v1::Saga saga;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ran.output, &saga).ok()) << ran.output;
  EXPECT_EQ(saga.state(), saga::v1::SAGA_STATE_QUARANTINED);

  ran = Sagactl({"quarantined"});
  ASSERT_EQ(ran.code, 0);
  EXPECT_THAT(ran.output, HasSubstr(saga.saga_id()));
  EXPECT_THAT(ran.output, HasSubstr("QUARANTINED"));

  ran = Sagactl({"replay", saga.saga_id(), "--dry_run", "--reason", "refunds restored",
                 "--output", "json"});
  ASSERT_EQ(ran.code, 0) << ran.output;
  saga::v1::ReplayCompensationResponse dry;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ran.output, &dry).ok()) << ran.output;
  std::vector<std::string> planned;
  for (const auto& p : dry.plan()) planned.push_back(p.step());
  EXPECT_THAT(planned, ElementsAre("charge", "reserve"));

  fixed_ = true;
  const size_t before = participant_.calls().size();
  ran = Sagactl({"replay", saga.saga_id(), "--reason", "refunds restored (INC-2041)"});
  ASSERT_EQ(ran.code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("replaying: 1 saga(s), 2 compensation(s)"));
  ASSERT_TRUE(saga::testing::WaitFor(
      [&] {
        Ran got = Sagactl({"get", saga.saga_id(), "--output", "json"});
        saga::v1::Saga now;
        return got.code == 0 && google::protobuf::util::JsonStringToMessage(got.output, &now).ok() &&
               now.state() == saga::v1::SAGA_STATE_COMPENSATED;
      },
      absl::Seconds(20), absl::Milliseconds(100)));
  std::vector<std::string> ran_compensations;
  std::vector<ParticipantCall> calls = participant_.calls();
  for (size_t i = before; i < calls.size(); ++i) {
    if (calls[i].saga_id == saga.saga_id() && calls[i].operation == "compensation") {
      ran_compensations.push_back(calls[i].step);
    }
  }
  EXPECT_EQ(ran_compensations, planned);

  ran = Sagactl({"definitions"});
  ASSERT_EQ(ran.code, 0);
  EXPECT_THAT(ran.output, ::testing::ContainsRegex("order +1 +3"));
  ran = Sagactl({"watch", saga.saga_id()});  // an ended saga: its history, then the end
  ASSERT_EQ(ran.code, 0) << ran.output;
  EXPECT_THAT(ran.output, HasSubstr("SAGA_COMPENSATED"));

  ran = Sagactl({"history", saga.saga_id()});
  ASSERT_EQ(ran.code, 0);
  bool found = false;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(ran.output, '\n'))) {
    if (line.find("OPERATOR_ACTION") == std::string::npos) continue;
    found = true;
    EXPECT_THAT(line, HasSubstr("alice"));
    EXPECT_THAT(line, HasSubstr("refunds restored (INC-2041)"));
  }
  EXPECT_TRUE(found) << ran.output;
}

TEST_F(SagactlTest, ExitCodesScriptsCanRelyOn) {
  EXPECT_EQ(Sagactl({"get", NewUuid()}).code, 10 + 5);        // NOT_FOUND
  EXPECT_EQ(Sagactl({"list"}, "").code, 10 + 16);              // UNAUTHENTICATED
  Ran ran = Sagactl({"retry", NewUuid()});                     // no --reason
  EXPECT_EQ(ran.code, 2);
  EXPECT_THAT(ran.output, HasSubstr("needs --reason"));
  EXPECT_EQ(Sagactl({"frobnicate"}).code, 2);
  ran = Sagactl({"help"});
  EXPECT_EQ(ran.code, 0);
  EXPECT_THAT(ran.output, HasSubstr("sagactl replay"));
  EXPECT_EQ(Sagactl({"list", "--output", "json"}).code, 0);
}

}  // namespace
}  // namespace saga
