// WaitFor: how tests wait for something to become true. It polls `condition` every few
// milliseconds until it holds or `timeout` passes, so a test waits exactly as long as the
// system needs and fails with a deadline instead of hanging. This is the harness's one pause
// between polls; tests never sleep for a fixed time.
#ifndef SAGA_TESTS_HARNESS_WAIT_H_
#define SAGA_TESTS_HARNESS_WAIT_H_

#include <functional>

#include "absl/time/time.h"

namespace saga::testing {

// True as soon as `condition` holds; false if it still does not after `timeout`.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll_interval = absl::Milliseconds(5));

// Lets `duration` pass. Only for fault injection, where the point is a moment chosen at random
// (when to kill a process, how long a client backs off); never to wait for a condition.
void Pause(absl::Duration duration);

}  // namespace saga::testing

#endif  // SAGA_TESTS_HARNESS_WAIT_H_
