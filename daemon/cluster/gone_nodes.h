#pragma once
// How long each node has been gone (not registered and ready), by this daemon's monotonic
// clock from the first pass that saw it gone. A node seen ready again starts afresh; a daemon
// that restarts starts every grace anew, which only delays what waits on it.
// Not thread-safe: one caller (a housekeeping thread).

#include <chrono>
#include <map>
#include <set>
#include <string>

namespace quasar::daemon {

class GoneNodes {
 public:
  using Clock = std::chrono::steady_clock;
  explicit GoneNodes(Clock::duration grace) : grace_(grace) {}

  // The nodes ready at `now`: they are not gone.
  void observe(const std::set<std::string>& ready, Clock::time_point now) {
    std::erase_if(since_, [&](const auto& e) { return ready.contains(e.first); });
    ready_ = ready;
    now_ = now;
  }
  // Whether `node` has been gone for the grace at least, as of the last observe(). A node not
  // ready that is asked of for the first time starts its grace now.
  bool goneForGrace(const std::string& node) {
    if (ready_.contains(node)) return false;
    auto [it, first] = since_.try_emplace(node, now_);
    return !first && now_ - it->second >= grace_;
  }

 private:
  const Clock::duration grace_;
  std::set<std::string> ready_;
  Clock::time_point now_{};
  std::map<std::string, Clock::time_point> since_;
};

}  // namespace quasar::daemon
