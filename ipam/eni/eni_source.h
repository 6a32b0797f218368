#pragma once
// ENI secondary addresses as an AddressSource (ipam/address_source.h), and the agent that keeps
// the pool warm.
//
// EniSource hands out one IPv4 address per request from an EniPool (eni_pool.h): a warm one
// with no cloud call, or one assigned synchronously when the pool is empty (the cold path). Past
// the node's address capacity take() fails ResourceExhausted with FailureReason
// kNodeAddressLimit (CNI code 109, docs/cni-errors.md). A pod cannot ask for a given address:
// the cloud picks them.
//
// EniRefiller owns a std::jthread that calls EniPool::refill() every `interval` and soon after
// kick() (the source kicks it on every take and release), so an ADD finds a warm address. Its
// first pass also starts the pool (start() is retried each pass until it succeeds).
//
// quasard's order at start-up: EniPool, EniRefiller (not started), EniSource(pool, kick), the
// AddressManager (its create() restore()s the store's allocations into the source), then
// EniRefiller::start(). Threading: both are thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "ipam/address_source.h"
#include "ipam/eni/eni_pool.h"

namespace quasar::ipam::eni {

class EniSource final : public AddressSource {
 public:
  static constexpr char kName[] = "eni";

  // `pool` must outlive the source. `kick` (may be null) is called after every take and
  // release, outside every lock: EniRefiller::kick.
  explicit EniSource(EniPool& pool, std::function<void()> kick = nullptr);

  absl::StatusOr<std::vector<conf::IpAddress>> take(const AllocateRequest& request,
                                                    int64_t now_ms) override;
  void untake(const Allocation& allocation) override;
  void released(const Allocation& allocation, bool hold, int64_t now_ms) override;
  void endHold(const std::vector<conf::IpAddress>& ips, int64_t now_ms) override;
  void restore(const Allocation& allocation) override;

  EniPool& pool() { return pool_; }

 private:
  EniPool& pool_;
  std::function<void()> kick_;
};

class EniRefiller {
 public:
  using Clock = std::function<int64_t()>;  // Unix time in milliseconds

  // `pool` must outlive the refiller.
  EniRefiller(EniPool& pool, Clock clock,
              std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~EniRefiller();  // stop()s

  void start();  // once; the first pass runs at once
  void stop();   // joins the thread; idempotent
  // Asks for a pass soon; kicks while a pass runs coalesce into one more pass.
  void kick();
  // Passes finished so far (tests wait for it to grow).
  int passes() const;

 private:
  void run(std::stop_token stop);

  EniPool& pool_;
  const Clock clock_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  bool kicked_ = false;
  int passes_ = 0;
  std::jthread thread_;  // last: joined before the members it uses go
};

}  // namespace quasar::ipam::eni
