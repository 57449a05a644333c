#include "tests/harness/wait.h"

#include <thread>

#include "absl/time/clock.h"

namespace saga::testing {

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll_interval) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(poll_interval));
  }
}

void Pause(absl::Duration duration) {
  std::this_thread::sleep_for(absl::ToChronoMicroseconds(duration));
}

}  // namespace saga::testing
