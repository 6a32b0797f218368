#include "ipam/eni/eni_source.h"

namespace quasar::ipam::eni {

EniSource::EniSource(EniPool& pool, std::function<void()> kick)
    : pool_(pool), kick_(std::move(kick)) {}

absl::StatusOr<std::vector<conf::IpAddress>> EniSource::take(const AllocateRequest& request,
                                                             int64_t now_ms) {
  if (!request.requested_ips.empty()) {
    return absl::InvalidArgumentError(
        "an ENI pod cannot request an address: the cloud assigns them");
  }
  auto ip = pool_.take(now_ms);
  if (kick_) kick_();
  if (!ip.ok()) return ip.status();
  return std::vector<conf::IpAddress>{*ip};
}

void EniSource::untake(const Allocation& allocation) {
  for (const auto& ip : allocation.ips) pool_.untake(ip);
}

void EniSource::released(const Allocation& allocation, bool hold, int64_t now_ms) {
  for (const auto& ip : allocation.ips) pool_.released(ip, hold, now_ms);
  if (kick_) kick_();
}

void EniSource::endHold(const std::vector<conf::IpAddress>& ips, int64_t now_ms) {
  for (const auto& ip : ips) pool_.endHold(ip, now_ms);
}

void EniSource::restore(const Allocation& allocation) {
  for (const auto& ip : allocation.ips) pool_.restore(ip);
}

EniRefiller::EniRefiller(EniPool& pool, Clock clock, std::chrono::milliseconds interval)
    : pool_(pool), clock_(std::move(clock)), interval_(interval) {}

EniRefiller::~EniRefiller() { stop(); }

void EniRefiller::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

void EniRefiller::stop() {
  std::jthread t;
  {
    std::lock_guard lock(mu_);
    t = std::move(thread_);
  }
  if (t.joinable()) {
    t.request_stop();
    t.join();
  }
}

void EniRefiller::kick() {
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
  }
  wake_.notify_all();
}

int EniRefiller::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

void EniRefiller::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    (void)pool_.refill(clock_());  // refill() records and logs its error for `quasarctl status`
    std::unique_lock lock(mu_);
    ++passes_;
    wake_.notify_all();
    wake_.wait_for(lock, stop, interval_, [this] { return kicked_; });
    kicked_ = false;
  }
}

}  // namespace quasar::ipam::eni
