#pragma once
// Runs iptables-restore, iptables-save and iptables: a child process with the given input on its
// stdin, its stdout discarded (runCommand) or returned (runCommandOutput) and its stderr
// collected for the error message. The only place netpolicy/
// starts a process. Blocks until the child exits.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quasar::netpolicy {

// Runs argv (argv[0] looked up in PATH) with `input` on stdin. OK when it exits 0; otherwise
// Internal naming the command, how it ended and what it wrote to stderr. FailedPrecondition when
// it cannot be started.
absl::Status runCommand(std::vector<std::string> argv, std::string_view input);
// The same, returning what the child wrote to stdout (whole) when it exits 0.
absl::StatusOr<std::string> runCommandOutput(std::vector<std::string> argv, std::string_view input);

}  // namespace quasar::netpolicy
