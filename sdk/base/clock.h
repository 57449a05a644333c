// Clock: the one way engine code reads the time, so tests can substitute a clock they control.
// RealClock reads the system clock, shifted by a skew that is zero except in fault tests
// (SAGAD_CLOCK_SKEW: a machine whose clock is off). Thread-safe.
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
  explicit RealClock(absl::Duration skew = absl::ZeroDuration()) : skew_(skew) {}
  absl::Time Now() override { return absl::Now() + skew_; }

 private:
  absl::Duration skew_;
};

}  // namespace saga

#endif  // SAGA_SDK_BASE_CLOCK_H_
