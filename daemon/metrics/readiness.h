#pragma once
// Readiness as a list of named checks: ready when every registered check passes (and at least
// one is registered). Each check says why it does not pass; /readyz shows them all, in the
// style of Kubernetes' own components:
//   [+]routes ok
//   [-]cluster-view failed: not loaded
//
// Threading: thread-safe. evaluate() runs the checks one after another under the object's
// mutex: a check must be quick (read a flag or a snapshot) and must not call back into it.
// Removing a check (its Registration ending) waits for an evaluation in flight.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "daemon/metrics/registration.h"

namespace quasar::metrics {

class Readiness {
 public:
  // OK: passes; any other status: fails with its message as the reason.
  using Check = std::function<absl::Status()>;

  // Checks run in the order they were added. The check ends with the registration.
  Registration add(std::string name, Check check);

  struct Report {
    bool ready = false;
    std::string text;  // one line per check, then "readyz check passed" or "... failed"
  };
  Report evaluate() const;

 private:
  void remove(uint64_t id);

  mutable std::mutex mu_;
  std::map<uint64_t, std::pair<std::string, Check>> checks_;
  uint64_t next_ = 1;
};

}  // namespace quasar::metrics
