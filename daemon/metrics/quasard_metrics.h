#pragma once
// Every metric quasard exposes, declared in one place (docs/metrics.md lists them):
//
//   quasar_cni_requests_total{command,result}          counter  plugin calls as quasard sees them
//   quasar_cni_request_duration_seconds{command}       histogram  time to the final answer
//   quasar_ipam_pool_addresses_in_use{pool}            gauge  addresses held by attachments
//   quasar_ipam_pool_addresses_cooling{pool}           gauge  released, resting before reuse
//   quasar_ipam_pool_addresses_capacity{pool}          gauge  addresses a pool can hand out
//   quasar_watch_synced{kind}                          gauge  1 while the list+watch is current
//   quasar_watch_relists_total{kind}                   counter  full lists (the first included)
//   quasar_watch_events_total{kind}                    counter  changes applied from the watch
//   quasar_reconcile_runs_total{agent}                 counter  reconcile passes
//   quasar_reconcile_errors_total{agent}               counter  passes that failed
//   quasar_datastore_requests_total{operation,result}  counter  Store calls (one round trip)
//   quasar_datastore_request_duration_seconds{operation}  histogram
//
// `result` is "ok" or the status code's name in snake case ("unavailable", "invalid_argument").
// Threading: thread-safe; the handles returned stay valid as long as the QuasardMetrics.

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "daemon/metrics/registry.h"

namespace quasar::metrics {

// Latency buckets: 1 ms .. 10 s for CNI calls, from 0.5 ms for datastore round trips.
inline const std::vector<double> kCniLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,    1,     2.5,  5,     10};
inline const std::vector<double> kStoreLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// "ok", "cancelled", ..., "unauthenticated"; "unknown" for a code outside absl's.
std::string_view resultLabel(absl::StatusCode code);

// Calls of a fixed set of operations: a counter by operation and result, a latency histogram
// by operation. record() takes no lock and allocates nothing once the (operation, result)
// child exists: the children are looked up once and cached per code.
class CallMetrics {
 public:
  CallMetrics(CounterFamily& calls, HistogramFamily& durations,
              std::vector<std::string> operations);
  void record(size_t operation, absl::StatusCode code, std::chrono::steady_clock::time_point start);
  Counter& calls(size_t operation, absl::StatusCode code);
  Histogram& durations(size_t operation) { return *durations_[operation]; }

 private:
  static constexpr size_t kCodes = 17;  // absl::StatusCode 0..16; others count as 2 (unknown)
  CounterFamily& calls_;
  const std::vector<std::string> operations_;
  std::vector<Histogram*> durations_;
  std::unique_ptr<std::array<std::atomic<Counter*>, kCodes>[]> cache_;
};

// The `command` label of quasar_cni_request_*: the plugin transport's calls.
enum CniCommand : size_t { kCniAdd, kCniDel, kCniCheck, kCniGc, kCniStatus, kCniList, kCniOther };
// The `operation` label of quasar_datastore_request_*: the Store interface's methods.
enum StoreOperation : size_t {
  kStoreGet,
  kStoreList,
  kStorePut,
  kStoreDelete,
  kStoreTxn,
  kStoreLeaseGrant,
  kStoreLeaseKeepAlive,
  kStoreLeaseRevoke,
  kStoreWatch,
};

// One watched kind's series ("cluster" for the cluster view; later "pods", "nodes", ...).
struct WatchMetrics {
  Gauge& synced;
  Counter& relists;
  Counter& events;
};

// One reconciling agent's series ("routing", later "policy").
struct ReconcileMetrics {
  Counter& runs;
  Counter& errors;
};

// A pool's addresses, computed at scrape time (see collectPools).
struct PoolUsage {
  std::string pool;  // a CIDR for blocks and static ranges; a name for named pools
  double in_use = 0;
  double cooling = 0;
  double capacity = 0;
};

// One kind of the object view, computed at scrape time (see collectWatches).
struct WatchUsage {
  std::string kind;  // "Node", "Pod", "NetworkPolicy.quasar.io", ...
  bool synced = false;
  double relists = 0;
  double events = 0;
};

class QuasardMetrics {
 public:
  QuasardMetrics();
  QuasardMetrics(const QuasardMetrics&) = delete;
  QuasardMetrics& operator=(const QuasardMetrics&) = delete;

  Registry& registry() { return registry_; }
  CallMetrics& cni() { return cni_; }
  CallMetrics& datastore() { return datastore_; }
  WatchMetrics watch(std::string_view kind);
  ReconcileMetrics reconcile(std::string_view agent);
  // `fn` is called at each scrape (once per pool gauge) until the registration ends; it must
  // be quick and thread-safe.
  Registration collectPools(std::function<std::vector<PoolUsage>()> fn);
  // The same for the object view's kinds (quasar_watch_* with kind=<Kind>).
  Registration collectWatches(std::function<std::vector<WatchUsage>()> fn);

 private:
  Registry registry_;

 public:
  // The families, for tests and for series not covered by the helpers above.
  CounterFamily& cni_requests;
  HistogramFamily& cni_request_duration;
  GaugeFamily& pool_in_use;
  GaugeFamily& pool_cooling;
  GaugeFamily& pool_capacity;
  GaugeFamily& watch_synced;
  CounterFamily& watch_relists;
  CounterFamily& watch_events;
  CounterFamily& reconcile_runs;
  CounterFamily& reconcile_errors;
  CounterFamily& datastore_requests;
  HistogramFamily& datastore_request_duration;

 private:
  CallMetrics cni_;
  CallMetrics datastore_;
};

}  // namespace quasar::metrics
