#include "daemon/metrics/quasard_metrics.h"

namespace quasar::metrics {

std::string_view resultLabel(absl::StatusCode code) {
  static constexpr std::string_view kNames[] = {"ok",
                                                "cancelled",
                                                "unknown",
                                                "invalid_argument",
                                                "deadline_exceeded",
                                                "not_found",
                                                "already_exists",
                                                "permission_denied",
                                                "resource_exhausted",
                                                "failed_precondition",
                                                "aborted",
                                                "out_of_range",
                                                "unimplemented",
                                                "internal",
                                                "unavailable",
                                                "data_loss",
                                                "unauthenticated"};
  const auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

CallMetrics::CallMetrics(CounterFamily& calls, HistogramFamily& durations,
                         std::vector<std::string> operations)
    : calls_(calls),
      operations_(std::move(operations)),
      cache_(new std::array<std::atomic<Counter*>, kCodes>[operations_.size()]) {
  for (size_t op = 0; op < operations_.size(); ++op) {
    durations_.push_back(&durations.with({operations_[op]}));
    for (auto& c : cache_[op]) c.store(nullptr, std::memory_order_relaxed);
  }
}

Counter& CallMetrics::calls(size_t operation, absl::StatusCode code) {
  size_t i = static_cast<size_t>(code);
  if (i >= kCodes) i = static_cast<size_t>(absl::StatusCode::kUnknown);
  auto& slot = cache_[operation][i];
  Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    // Racing first uses find the same child: the family creates it once.
    c = &calls_.with({operations_[operation], resultLabel(static_cast<absl::StatusCode>(i))});
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

void CallMetrics::record(size_t operation, absl::StatusCode code,
                         std::chrono::steady_clock::time_point start) {
  calls(operation, code).inc();
  durations_[operation]->observeSince(start);
}

QuasardMetrics::QuasardMetrics()
    : cni_requests(registry_.counter(
          "quasar_cni_requests_total",
          "CNI plugin calls served by quasard, by command (ADD, DEL, CHECK, GC, STATUS, LIST) and "
          "result (ok or the status code).",
          {"command", "result"})),
      cni_request_duration(registry_.histogram(
          "quasar_cni_request_duration_seconds",
          "Time from a plugin call's arrival to quasard's final answer (an ADD's durable one).",
          {"command"}, kCniLatencyBuckets)),
      pool_in_use(registry_.gauge("quasar_ipam_pool_addresses_in_use",
                                  "Addresses of the pool held by attachments.", {"pool"})),
      pool_cooling(registry_.gauge(
          "quasar_ipam_pool_addresses_cooling",
          "Addresses of the pool released and resting before they are handed out again.",
          {"pool"})),
      pool_capacity(registry_.gauge("quasar_ipam_pool_addresses_capacity",
                                    "Addresses the pool can hand out at all.", {"pool"})),
      watch_synced(registry_.gauge(
          "quasar_watch_synced",
          "1 while the list and watch of the kind are current, 0 while it relists.", {"kind"})),
      watch_relists(registry_.counter(
          "quasar_watch_relists_total",
          "Full lists of the kind (the first one included): a watch could not resume.", {"kind"})),
      watch_events(registry_.counter("quasar_watch_events_total",
                                     "Changes of the kind applied from its watch.", {"kind"})),
      reconcile_runs(registry_.counter("quasar_reconcile_runs_total",
                                       "Reconcile passes of the agent.", {"agent"})),
      reconcile_errors(registry_.counter("quasar_reconcile_errors_total",
                                         "Reconcile passes of the agent that failed.", {"agent"})),
      datastore_requests(registry_.counter(
          "quasar_datastore_requests_total",
          "Calls to the cluster datastore (SQLite or etcd), by operation and result.",
          {"operation", "result"})),
      datastore_request_duration(
          registry_.histogram("quasar_datastore_request_duration_seconds",
                              "Latency of calls to the cluster datastore, retries included.",
                              {"operation"}, kStoreLatencyBuckets)),
      cni_(cni_requests, cni_request_duration,
           {"ADD", "DEL", "CHECK", "GC", "STATUS", "LIST", "OTHER"}),
      datastore_(datastore_requests, datastore_request_duration,
                 {"get", "list", "put", "delete", "txn", "lease_grant", "lease_keepalive",
                  "lease_revoke", "watch"}) {}

WatchMetrics QuasardMetrics::watch(std::string_view kind) {
  return {watch_synced.with({kind}), watch_relists.with({kind}), watch_events.with({kind})};
}

ReconcileMetrics QuasardMetrics::reconcile(std::string_view agent) {
  return {reconcile_runs.with({agent}), reconcile_errors.with({agent})};
}

Registration QuasardMetrics::collectPools(std::function<std::vector<PoolUsage>()> fn) {
  auto in_use = pool_in_use.collect([fn](Samples& s) {
    for (const auto& p : fn()) s.add(std::vector<std::string>{p.pool}, p.in_use);
  });
  auto cooling = pool_cooling.collect([fn](Samples& s) {
    for (const auto& p : fn()) s.add(std::vector<std::string>{p.pool}, p.cooling);
  });
  auto capacity = pool_capacity.collect([fn](Samples& s) {
    for (const auto& p : fn()) s.add(std::vector<std::string>{p.pool}, p.capacity);
  });
  auto all = std::make_shared<std::array<Registration, 3>>();
  (*all)[0] = std::move(in_use);
  (*all)[1] = std::move(cooling);
  (*all)[2] = std::move(capacity);
  return Registration([all] {
    for (auto& r : *all) r.reset();
  });
}

Registration QuasardMetrics::collectWatches(std::function<std::vector<WatchUsage>()> fn) {
  auto synced = watch_synced.collect([fn](Samples& s) {
    for (const auto& w : fn()) s.add(std::vector<std::string>{w.kind}, w.synced ? 1 : 0);
  });
  auto relists = watch_relists.collect([fn](Samples& s) {
    for (const auto& w : fn()) s.add(std::vector<std::string>{w.kind}, w.relists);
  });
  auto events = watch_events.collect([fn](Samples& s) {
    for (const auto& w : fn()) s.add(std::vector<std::string>{w.kind}, w.events);
  });
  auto all = std::make_shared<std::array<Registration, 3>>();
  (*all)[0] = std::move(synced);
  (*all)[1] = std::move(relists);
  (*all)[2] = std::move(events);
  return Registration([all] {
    for (auto& r : *all) r.reset();
  });
}

}  // namespace quasar::metrics
