#pragma once
// Enforces NetworkPolicy on this node: builds the compiler's model from the object view and this
// node's pods (policy_model.h), compiles it per address family and has the applier make the
// kernel match (netpolicy/kernel/applier.h). docs/network-policy.md.
//
// - Syncs on every change of the kinds policy depends on (coalesced: a burst costs one sync),
//   and repairs what someone changed in the kernel: every `repair_period` a cheap check (sets'
//   member counts, the hooks and the filter generation: nftables' ruleset generation, or the
//   legacy tables' digest) repairs what it finds. The generation is also looked at every
//   min(repair_period, 100 ms), and the full comparison of quasar's chains runs when it moved,
//   at most once per max(repair_period, twice its last duration). Where no generation can be
//   read, the full comparison runs every period, or, when it takes longer than a tenth of
//   that, every ten times its duration.
//   A change
//   of pods only (added, deleted, relabelled, readdressed) patches the compiled sets and changes
//   only their members (netpolicy/compiler/membership.h); a policy, namespace or node change
//   compiles all.
// - No gap at pod start: the ADD's awaitApplied() returns only after a sync that includes the
//   pod's addresses has been applied, so a pod a policy isolates is isolated before its ADD
//   answers.
// - Nothing is applied before the view has synced: a half-loaded view would open holes in what
//   a previous quasard left in the kernel.
//
// Threading: one thread at a time compiles and changes the kernel (`busy_`): the worker, or
// the thread of an ADD (awaitApplied) that finds it idle and syncs right there; the public
// methods are thread-safe. stop() (or the destructor) ends the subscription and joins the worker. The view
// and the applier must outlive the agent.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/agents/policy_model.h"
#include "daemon/cluster/object_view.h"
#include "daemon/metrics/quasard_metrics.h"
#include "netpolicy/compiler/explain.h"
#include "netpolicy/compiler/membership.h"
#include "netpolicy/kernel/applier.h"

namespace quasar::daemon {

class PolicyAgent {
 public:
  struct Options {
    LocalNodeFacts node;
    std::chrono::milliseconds repair_period{500};
  };
  struct Stats {
    bool ready = false;        // a sync has been applied
    uint64_t syncs = 0;        // full syncs (compile everything)
    uint64_t pod_updates = 0;  // pod events applied as set member changes only
    uint64_t sync_errors = 0;
    uint64_t repairs = 0;  // repair passes that changed something
    double last_sync_ms = 0;
    size_t policies = 0;
    size_t pods = 0;
    size_t rules = 0;  // iptables rules of the last applied rulesets
    size_t sets = 0;
    size_t set_members = 0;
    std::string last_error;  // of the last failed sync or repair; "" after a good sync
  };

  PolicyAgent(ObjectView& view, netpolicy::Applier& applier, Options options);
  ~PolicyAgent() { stop(); }
  PolicyAgent(const PolicyAgent&) = delete;
  PolicyAgent& operator=(const PolicyAgent&) = delete;

  void start();
  void stop();
  // Runs/errors go to these series (agent "policy"). Call before start().
  void setMetrics(metrics::ReconcileMetrics m) { metrics_.emplace(m); }

  // The ADD path, in two steps so that the sync runs while the caller does something else (the
  // address's commit): podStarting() records that `pod` has these addresses on this node
  // (attachment "<cid>/<ifname>") and wakes the worker; it returns the generation that
  // includes them. awaitApplied() returns once a sync of that generation is applied (syncing
  // right there when no one is at it): OK, or Unavailable when none could be applied before
  // `deadline` (the view not synced yet) or the kernel refused it while policies exist (with no
  // policy at all nothing isolates the pod, so a kernel without ipset does not stop pods).
  uint64_t podStarting(const std::string& attachment, LocalPod pod);
  absl::Status awaitApplied(uint64_t generation, std::chrono::milliseconds deadline);
  // Both steps at once.
  absl::Status podStarting(const std::string& attachment, LocalPod pod,
                           std::chrono::milliseconds deadline) {
    return awaitApplied(podStarting(attachment, std::move(pod)), deadline);
  }
  // A pod this node already had at start (from the allocation store): recorded, no wait.
  void podKnown(const std::string& attachment, LocalPod pod);
  // The attachment's addresses are released: out of the sets with the next sync (no wait).
  void podStopped(const std::string& attachment);

  // Why a connection is allowed or denied, from the model of the last sync (explain.h).
  // FailedPrecondition before the first sync; NotFound for an unknown pod.
  absl::StatusOr<netpolicy::Verdict> explain(const std::string& from_namespace,
                                             const std::string& from_pod,
                                             const std::string& to_namespace,
                                             const std::string& to_pod, int port,
                                             netpolicy::Protocol protocol) const;
  Stats stats() const;

 private:
  using PodKey = std::pair<std::string, std::string>;  // namespace, name
  // What the last sync compiled, patched by pod events since. The busy_ thread only (the model
  // also under model_mu_, for explain()).
  struct Compiled {
    std::vector<netpolicy::Ruleset> rulesets;        // one per family
    std::vector<netpolicy::Membership> memberships;  // the same order
    std::map<PodKey, size_t> pod_index;              // into model_->pods
  };

  void run();
  // Under mu_ (released meanwhile), busy_ false, the view synced: syncs what is wanted (pods, or
  // everything) and records the generation applied.
  void syncLocked(std::unique_lock<std::mutex>& lock);
  // One repair tick (worker thread, busy_, mu_ not held): the cheap check, and the full comparison
  // when due; moves `next_full` after a full read.
  absl::StatusOr<netpolicy::ApplyStats> repairPass(
      std::chrono::steady_clock::time_point& next_full);
  // A full sync of `local` (the snapshot the pass took): model, compile, apply. The busy_
  // thread only; returns the status.
  absl::Status syncAll(const std::map<std::string, LocalPod>& local);
  // Pod events as member changes; false (nothing half done that a full sync would not fix) when
  // they need a full sync instead. The busy_ thread only.
  bool syncPods(const std::set<PodKey>& pods, const std::map<std::string, LocalPod>& local);
  void markDirty(std::optional<PodKey> pod);
  // Under mu_: records a local pod for the next sync; returns the generation that includes it.
  uint64_t rememberLocked(const std::string& attachment, LocalPod pod);

  ObjectView& view_;
  netpolicy::Applier& applier_;
  const Options options_;
  std::optional<metrics::ReconcileMetrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // worker: work to do
  std::condition_variable done_cv_;  // waiters: a sync finished
  bool stopping_ = false;
  uint64_t wanted_ = 1;   // generation of the state to sync (the first sync is wanted)
  uint64_t applied_ = 0;  // generation of the last finished sync
  bool full_ = true;      // a full sync is wanted (not just pod updates)
  bool busy_ = false;     // a thread is syncing or repairing: compiled_ and the applier are its
  std::set<PodKey> dirty_pods_;
  absl::Status last_status_ = absl::UnavailableError("no policy sync yet");
  size_t last_policies_ = 0;  // policies in the model of the last full sync, applied or not
  std::map<std::string, LocalPod> local_;
  mutable std::mutex model_mu_;
  std::shared_ptr<netpolicy::Model> model_;  // of the last good sync, patched by pod events
  std::optional<Compiled> compiled_;         // the busy_ thread only
  Stats stats_;
  ObjectView::Subscription subscription_;
  std::thread thread_;
};

}  // namespace quasar::daemon
