// The web console in a real headless Chromium against a real sagad with real sagas
// (console_world.h): tests/web/console_browser.mjs, run by Node with playwright-core driving
// Debian's Chromium, checks that the overview's counts match the API, that a viewer sees no
// action button, and, as an admin, replays a quarantined saga's compensations from its page
// (dry run first), retries a second, skips the failed refund of a third and requeues a parked
// message. This test then checks through gRPC what really happened: the sagas are COMPENSATED,
// each history names the admin and the reason typed in the page, the replayed and retried
// sagas' effect logs satisfy invariant 1 of DESIGN.md, the skipped refund was never called
// again, and nothing is parked any more. Screenshots of the overview, a saga's timeline and a
// definition's graph land in the build tree (tests/web/screenshots).
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "tests/harness/child_process.h"
#include "tests/web/console_world.h"

namespace saga {
namespace {

using ::saga::testing::ConsoleWorld;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kReason[] = "refunds database restored (INC-7731)";

TEST(ConsoleBrowserTest, OverviewMatchesTheApiViewersSeeNoActionsAndAdminsActFromThePages) {
  ConsoleWorld world;
  absl::Status started = world.Start(/*completed=*/8, /*compensated=*/5, /*quarantined=*/3);
  ASSERT_TRUE(started.ok()) << started;
  auto counts = world.CountByListing();
  ASSERT_TRUE(counts.ok()) << counts.status();
  // What the browser must find, from the API (ListSagas, page by page).
  std::string expected_counts;
  int total = 0;
  for (saga::v1::SagaState state :
       {saga::v1::SAGA_STATE_RUNNING, saga::v1::SAGA_STATE_COMPENSATING,
        saga::v1::SAGA_STATE_COMPLETED, saga::v1::SAGA_STATE_COMPENSATED,
        saga::v1::SAGA_STATE_QUARANTINED}) {
    const int n = (*counts)[state];
    total += n;
    if (!expected_counts.empty()) expected_counts += ",";
    expected_counts += saga::StrCat("\"", saga::v1::SagaState_Name(state), "\":", n);
  }
  ASSERT_EQ(total, 16);
  ASSERT_TRUE(world.ParkMessage("parked-order-17").ok());
  const std::vector<std::string>& ids = world.quarantined_ids();
  const std::string expected = saga::StrCat(
      "{\"counts\":{", expected_counts, "},\"total\":", total, ",\"quarantinedIds\":[\"",
      ids[0], "\",\"", ids[1], "\",\"", ids[2], "\"],\"completedId\":\"", world.completed_id(),
      "\",\"parkedId\":\"parked-order-17\",\"reason\":\"", kReason, "\"}");

  world.Fix();  // the refunds work again: the replay from the page can succeed
  const size_t calls_before = world.participant().calls().size();
  const std::string log = std::filesystem::temp_directory_path() / "sagad-console-browser.log";
  std::filesystem::remove(log);
  auto code = saga::testing::RunToCompletion(
      {.argv = {"node", SAGAD_SOURCE_DIR "/tests/web/console_browser.mjs"},
       .env = {"SAGAD_URL=" + world.http_base(),
               saga::StrCat("ADMIN_TOKEN=", saga::testing::kAdminToken),
               saga::StrCat("VIEWER_TOKEN=", saga::testing::kViewerToken), "EXPECTED=" + expected,
               "SCREENSHOT_DIR=" SAGAD_SCREENSHOT_DIR},
       .output_path = log},
      absl::Seconds(180));
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << saga::testing::TailOfFile(log, 6000);
  std::cerr << saga::testing::TailOfFile(log, 2000);

  // What the pages did, seen through gRPC: the operator actions in each history, with the
  // admin's name and the reason typed, and what the participant received after them.
  const auto calls = world.participant().calls();
  auto after_now = [&](const std::string& id) {
    std::vector<std::string> operations;
    for (size_t i = calls_before; i < calls.size(); ++i) {
      if (calls[i].saga_id == id) operations.push_back(calls[i].operation + " " + calls[i].step);
    }
    return operations;
  };
  auto operator_actions = [&](const std::string& id) {
    saga::v1::GetHistoryRequest request;
    request.set_saga_id(id);
    request.set_page_size(1000);
    saga::v1::GetHistoryResponse history;
    EXPECT_TRUE(world.admin()
                    .GetHistory(ConsoleWorld::With(saga::testing::kAdminToken).get(), request,
                                &history)
                    .ok());
    std::vector<saga::v1::SagaEvent> actions;
    for (const auto& e : history.events()) {
      if (e.type() == saga::v1::SagaEvent::TYPE_OPERATOR_ACTION) actions.push_back(e);
    }
    return actions;
  };
  for (const std::string& id : ids) {
    EXPECT_EQ(world.WaitForState(id, saga::v1::SAGA_STATE_COMPENSATED).state(),
              saga::v1::SAGA_STATE_COMPENSATED)
        << id;
  }
  // The replay: the dry run's plan ran, once (the dry run recorded nothing).
  const saga::v1::Saga replayed = world.WaitForState(ids[0], saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga::testing::InvariantOneViolations(replayed, world.participant()), IsEmpty());
  EXPECT_THAT(after_now(ids[0]),
              ElementsAre("compensation charge", "compensation reserve"));
  auto replay_actions = operator_actions(ids[0]);
  ASSERT_EQ(replay_actions.size(), 1u);
  EXPECT_EQ(replay_actions[0].actor(), "oncall");  // the admin token's name
  EXPECT_EQ(replay_actions[0].reason(), kReason);
  EXPECT_THAT(replay_actions[0].error(), HasSubstr("replay compensations: charge, reserve"));
  // The retry: the failed refund ran again, then the reservation was released.
  const saga::v1::Saga retried = world.WaitForState(ids[1], saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga::testing::InvariantOneViolations(retried, world.participant()), IsEmpty());
  EXPECT_THAT(after_now(ids[1]), ElementsAre("compensation charge", "compensation reserve"));
  auto retry_actions = operator_actions(ids[1]);
  ASSERT_EQ(retry_actions.size(), 1u);
  EXPECT_EQ(retry_actions[0].actor(), "oncall");
  EXPECT_EQ(retry_actions[0].reason(), saga::StrCat(kReason, " (retry)"));
  // The skip: the refund counted as done by hand and never called again; the reservation was
  // released.
  EXPECT_THAT(after_now(ids[2]), ElementsAre("compensation reserve"));
  auto skip_actions = operator_actions(ids[2]);
  ASSERT_EQ(skip_actions.size(), 1u);
  EXPECT_EQ(skip_actions[0].actor(), "oncall");
  EXPECT_EQ(skip_actions[0].reason(), saga::StrCat(kReason, " (refunded by hand)"));
  EXPECT_EQ(skip_actions[0].step(), "charge");
  // The requeue: nothing is parked any more.
  saga::v1::ListParkedRequest parked_request;
  saga::v1::ListParkedResponse parked;
  ASSERT_TRUE(world.admin()
                  .ListParked(ConsoleWorld::With(saga::testing::kViewerToken).get(),
                              parked_request, &parked)
                  .ok());
  EXPECT_EQ(parked.messages_size(), 0);
  for (const char* shot : {"overview.png", "saga-timeline-quarantined.png",
                           "saga-timeline-replayed.png", "definition-graph.png"}) {
    EXPECT_TRUE(std::filesystem::file_size(std::filesystem::path(SAGAD_SCREENSHOT_DIR) / shot) >
                10000)
        << shot;
  }
}

}  // namespace
}  // namespace saga
