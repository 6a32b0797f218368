#pragma once
// Keeps this node's routes to other nodes' blocks (and blackholes for its own) in line with the
// cluster view: re-plans and reconciles on every view change, on every kernel notification that
// one of its routes (or a device under them) went away, and every `period` (500 ms) as a safety
// net. Threading: one worker thread plus the route monitor's; planned() is thread-safe. stop()
// (or the destructor) ends the view subscription, the monitor and the worker: nothing runs on
// the agent's behalf after it returns. The view must outlive the agent.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "daemon/cluster/node_directory.h"
#include "daemon/metrics/quasard_metrics.h"
#include "routing/route_monitor.h"
#include "routing/route_planner.h"

namespace quasar::daemon {

class RoutingAgent {
 public:
  RoutingAgent(NodeDirectory& view, routing::LocalNode local, conf::RoutingMode mode,
               std::chrono::milliseconds period)
      : view_(view), local_(std::move(local)), mode_(mode), period_(period) {}
  ~RoutingAgent() { stop(); }
  void start();
  void stop();
  conf::RoutingMode mode() const { return mode_; }
  std::vector<routing::PlannedRoute> planned() const;
  // True once a pass has programmed the planned routes (readiness). Thread-safe.
  bool ready() const { return reconciled_.load(); }
  // Passes and failed passes (a route or a tunnel device not programmed) go to these series
  // (quasar_reconcile_*, agent "routing"). Call before start(); the metrics must outlive it.
  void setMetrics(metrics::ReconcileMetrics m) { metrics_.emplace(m); }

 private:
  void run();
  void reconcileOnce();
  void prepareVxlan(const routing::LocalNode& local, const std::vector<routing::PeerNode>& peers,
                    const std::vector<routing::PlannedRoute>& plan);
  void prepareIpip(const routing::LocalNode& local, const std::vector<routing::PlannedRoute>& plan);
  // Logs a device error once, not on every pass, until it changes or clears.
  void reportDeviceError(const char* event, const absl::Status& s);

  NodeDirectory& view_;
  routing::LocalNode local_;
  const conf::RoutingMode mode_;
  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  bool stopping_ = false;
  std::vector<routing::PlannedRoute> planned_;
  std::string last_device_error_;      // worker thread only
  bool ipip_released_ = false;         // worker thread only
  std::set<std::string> unreachable_;  // worker thread only: peers last planned unreachable
  std::atomic<bool> reconciled_{false};
  std::optional<metrics::ReconcileMetrics> metrics_;
  std::shared_ptr<void> subscription_;  // the directory's change handle
  std::unique_ptr<routing::RouteMonitor> monitor_;
  std::thread thread_;
};

}  // namespace quasar::daemon
