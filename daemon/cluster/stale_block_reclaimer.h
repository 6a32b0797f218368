#pragma once
// Reclaims the blocks of nodes that are gone for good, so that nodes which never come back (an
// autoscaled fleet) do not exhaust the cluster CIDR. Every daemon runs one; a block of node N is
// reclaimed (its key deleted, so any node may claim it) only when
//   - N's registration (live/N, under N's lease) has been absent for longer than the grace, as
//     measured by this daemon's monotonic clock from the first pass that saw it absent, and
//   - N has not registered again since that pass: a registration rewrites nodes/N, so the
//     record's mod revision must be the one seen then (a node that came back and vanished again
//     between two passes restarts the grace),
// and the deletion is one transaction that re-checks all of it: the block key unchanged since it
// was read (still N's, same claim), live/N absent, nodes/N unchanged. Two daemons racing for the
// same block: exactly one transaction succeeds. A daemon that restarts starts its grace anew,
// which only delays a reclaim. The grace must be far longer than any datastore outage a node is
// expected to ride out (a node serves from its blocks while the datastore is away). quasard
// stops handing out addresses once its own registration has gone unconfirmed for half the
// grace (NodeRegistry::sinceConfirmed), and a node that comes back verifies which blocks it
// still owns (dropLostBlocks) before it hands out any again.
// Not thread-safe: one caller (quasard's housekeeping thread).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

class StaleBlockReclaimer {
 public:
  StaleBlockReclaimer(Store& store, std::string self, std::chrono::milliseconds grace)
      : store_(store), self_(std::move(self)), grace_(grace) {}

  // One pass at `now_ms` of a monotonic clock. Returns the blocks this pass reclaimed; an error
  // when the datastore could not be read (a block whose deletion fails is left to a later pass).
  absl::StatusOr<std::vector<conf::IpPrefix>> tick(int64_t now_ms);

 private:
  struct Gone {
    int64_t record_revision = 0;  // nodes/<name>'s mod revision when first seen gone (0: none)
    int64_t since_ms = 0;
  };

  Store& store_;
  const std::string self_;
  const std::chrono::milliseconds grace_;
  std::map<std::string, Gone> gone_;  // owners of blocks seen without their live/ key
};

}  // namespace quasar::daemon
