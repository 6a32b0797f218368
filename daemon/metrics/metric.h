#pragma once
// One time series each: a Counter, a Gauge, a Histogram. They are the children of a Family
// (daemon/metrics/registry.h), which creates them and owns them; callers keep a reference to a
// child and update it directly.
//
// Threading: every method is thread-safe and lock-free. An update is one or two relaxed atomic
// operations (a few ns) and never allocates; a scrape may see a histogram's sum a moment ahead
// of or behind its buckets, never a bucket count going down.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace quasar::metrics {

// Counts events; only goes up (a restart of the process resets it, as Prometheus expects).
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, inclusive: "le"), plus their sum.
class Histogram {
 public:
  // `bounds`: finite, strictly increasing; owned by the family, which outlives the histogram.
  explicit Histogram(std::span<const double> bounds);
  // NaN counts in the +Inf bucket only, and is left out of the sum.
  void observe(double v);
  // Observes the seconds elapsed since `start`.
  void observeSince(std::chrono::steady_clock::time_point start) {
    observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::span<const double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; +Inf last
  std::atomic<double> sum_{0};
};

}  // namespace quasar::metrics
