#pragma once
// Background servers for tests (quasard, etcd), tied to the test process: each is started with
// a parent-death signal, so it is killed with the test even when the test itself dies without
// running its clean-up (a crash, SIGKILL, SIGPIPE from `| head`). Start them from the thread that
// lives as long as they should (the test's main thread): the signal fires when that thread ends.

#include <sys/types.h>

#include <string>
#include <vector>

namespace quasar::tests {

// Starts argv (argv[0] looked up in PATH) in the background, stdout discarded, stderr appended
// to `log`; returns its pid, or -1 when it could not be started. The caller kills and reaps it.
pid_t spawnBackground(const std::vector<std::string>& argv, const std::string& log);

}  // namespace quasar::tests
