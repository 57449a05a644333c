#include "sdk/base/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace saga::failpoint {
namespace {

struct Point {
  enum class Action { kCrash, kSleep } action = Action::kCrash;
  int nth = 1;             // crash at this hit
  int percent = 0;         // or with this probability at each hit
  int sleep_ms = 0;
  std::atomic<int> hits{0};
};

struct Config {
  std::map<std::string, std::unique_ptr<Point>, std::less<>> points;
};

// Parses SAGAD_FAILPOINTS; a malformed entry stops the process at once, so a fault run never
// silently runs without the fault it asked for.
Config* Load() {
  auto* config = new Config();
  const char* env = std::getenv("SAGAD_FAILPOINTS");
  if (env == nullptr) return config;
  for (absl::string_view entry : absl::StrSplit(env, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, '=');
    auto point = std::make_unique<Point>();
    absl::string_view action = kv.second;
    bool ok = true;
    if (absl::ConsumePrefix(&action, "sleep:")) {
      point->action = Point::Action::kSleep;
      ok = absl::SimpleAtoi(action, &point->sleep_ms) && point->sleep_ms >= 0;
    } else if (absl::ConsumePrefix(&action, "crash")) {
      if (absl::ConsumePrefix(&action, "@")) {
        ok = absl::SimpleAtoi(action, &point->nth) && point->nth >= 1;
      } else if (absl::ConsumePrefix(&action, "%")) {
        ok = absl::SimpleAtoi(action, &point->percent) && point->percent >= 1 &&
             point->percent <= 100;
      } else {
        ok = action.empty();
      }
    } else {
      ok = false;
    }
    if (!ok || kv.first.empty()) {
      std::fprintf(stderr,
                   "SAGAD_FAILPOINTS: \"%.*s\" must be name=crash, crash@N, crash%%P or sleep:MS\n",
                   static_cast<int>(entry.size()), entry.data());
      std::_Exit(2);
    }
    config->points[std::string(kv.first)] = std::move(point);
  }
  return config;
}

const Config& Get() {
  static const Config* config = Load();
  return *config;
}

std::atomic<int> state{0};  // 0: not read yet, 1: none set, 2: some set

}  // namespace

void Hit(std::string_view name) {
  int s = state.load(std::memory_order_relaxed);
  if (s == 1) return;
  if (s == 0) {
    s = Get().points.empty() ? 1 : 2;
    state.store(s, std::memory_order_relaxed);
    if (s == 1) return;
  }
  auto it = Get().points.find(name);
  if (it == Get().points.end()) return;
  Point& point = *it->second;
  const int hit = point.hits.fetch_add(1) + 1;
  if (point.action == Point::Action::kSleep) {
    absl::SleepFor(absl::Milliseconds(point.sleep_ms));
    return;
  }
  bool fire = point.percent > 0 ? absl::Uniform(absl::BitGen(), 0, 100) < point.percent
                                : hit == point.nth;
  if (!fire) return;
  std::fprintf(stderr, "failpoint fired: %.*s (hit %d)\n", static_cast<int>(name.size()),
               name.data(), hit);
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  pause();
}

}  // namespace saga::failpoint
