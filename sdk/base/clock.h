// Clock: the one way engine code reads the time, so tests can substitute a clock they control.
// RealClock reads the system clock. Thread-safe.
#ifndef SAGA_SDK_BASE_CLOCK_H_
#define SAGA_SDK_BASE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace saga {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace saga

#endif  // SAGA_SDK_BASE_CLOCK_H_
