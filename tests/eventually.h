#pragma once
// Polls `pred` every 20 ms until it holds or `timeout` passes; returns its last value. For
// positive checks: a negative check must wait for a later event, never for time to pass.

#include <chrono>
#include <functional>
#include <thread>

namespace quasar::tests {

inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace quasar::tests
