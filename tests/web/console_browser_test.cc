// The web console in a real headless Chromium against a real sagad with real sagas
// (console_world.h): tests/web/console_browser.mjs, run by Node with playwright-core driving
// Debian's Chromium, checks that the overview's counts match the API, that a viewer sees no
// action button, and replays the quarantined saga's compensations from its page as an admin,
// dry run first. This test then checks through gRPC what really happened: the saga is
// COMPENSATED, its history names the admin and the reason typed in the page, and the
// participant's effect log satisfies invariant 1 of DESIGN.md. Screenshots of the overview and
// of the saga's timeline land in the build tree (tests/web/screenshots).
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sdk/base/strings.h"
#include "tests/harness/child_process.h"
#include "tests/web/console_world.h"

namespace saga {
namespace {

using ::saga::testing::ConsoleWorld;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kReason[] = "refunds database restored (INC-7731)";

TEST(ConsoleBrowserTest, OverviewMatchesTheApiViewersSeeNoActionsAndAnAdminReplaysFromThePage) {
  ConsoleWorld world;
  absl::Status started = world.Start(/*completed=*/8, /*compensated=*/5);
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
  ASSERT_EQ(total, 14);
  const std::string expected = saga::StrCat(
      "{\"counts\":{", expected_counts, "},\"total\":", total, ",\"quarantinedId\":\"",
      world.quarantined_id(), "\",\"completedId\":\"", world.completed_id(),
      "\",\"reason\":\"", kReason, "\"}");

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

  // What the page did, seen through gRPC.
  const saga::v1::Saga replayed =
      world.WaitForState(world.quarantined_id(), saga::v1::SAGA_STATE_COMPENSATED);
  ASSERT_EQ(replayed.state(), saga::v1::SAGA_STATE_COMPENSATED);
  EXPECT_THAT(saga::testing::InvariantOneViolations(replayed, world.participant()), IsEmpty());
  std::vector<std::string> compensations;
  const auto calls = world.participant().calls();
  for (size_t i = calls_before; i < calls.size(); ++i) {
    if (calls[i].saga_id == world.quarantined_id()) compensations.push_back(calls[i].step);
  }
  EXPECT_THAT(compensations, ::testing::ElementsAre("charge", "reserve"));
  saga::v1::GetHistoryRequest request;
  request.set_saga_id(world.quarantined_id());
  request.set_page_size(1000);
  saga::v1::GetHistoryResponse history;
  ASSERT_TRUE(world.admin()
                  .GetHistory(ConsoleWorld::With(saga::testing::kAdminToken).get(), request,
                              &history)
                  .ok());
  int actions = 0;
  for (const auto& e : history.events()) {
    if (e.type() != saga::v1::SagaEvent::TYPE_OPERATOR_ACTION) continue;
    ++actions;
    EXPECT_EQ(e.actor(), "oncall");  // the admin token's name
    EXPECT_EQ(e.reason(), kReason);
    EXPECT_THAT(e.error(), HasSubstr("replay compensations: charge, reserve"));
  }
  EXPECT_EQ(actions, 1);  // the dry run recorded nothing
  for (const char* shot : {"overview.png", "saga-timeline-quarantined.png",
                           "saga-timeline-replayed.png"}) {
    EXPECT_TRUE(std::filesystem::file_size(std::filesystem::path(SAGAD_SCREENSHOT_DIR) / shot) >
                10000)
        << shot;
  }
}

}  // namespace
}  // namespace saga
