#include "ipam/cloud/clock.h"

#include <random>

#include "absl/time/clock.h"

namespace quasar::ipam::cloud {

Clock systemClock() {
  return Clock{
      [] { return absl::Now(); },
      [](absl::Duration d) { absl::SleepFor(d); },
      [] {
        thread_local std::mt19937_64 gen{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
      },
  };
}

}  // namespace quasar::ipam::cloud
