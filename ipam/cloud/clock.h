#pragma once
// Time, sleeping and randomness for the cloud clients, injectable so that retry policies,
// token lifetimes and credential refreshes are unit-tested without waiting.

#include <functional>

#include "absl/time/time.h"

namespace quasar::ipam::cloud {

struct Clock {
  std::function<absl::Time()> now;
  std::function<void(absl::Duration)> sleep;
  std::function<double()> random;  // uniform in [0, 1)
};

// The real one: absl::Now, absl::SleepFor, a per-thread generator. Thread-safe.
Clock systemClock();

}  // namespace quasar::ipam::cloud
