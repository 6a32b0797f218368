#include "daemon/cluster/cluster_view.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "absl/strings/match.h"
#include "conf/json_parse.h"
#include "daemon/cluster/cluster_keys.h"

namespace quasar::daemon {

absl::Status ClusterView::start() {
  if (auto s = load(); !s.ok()) return s;
  reloader_ = std::thread([this] { reloadLoop(); });
  return absl::OkStatus();
}

void ClusterView::stop() {
  std::unique_ptr<Watch> watch;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (reloader_.joinable()) reloader_.join();
  {
    std::lock_guard lock(mu_);
    watch = std::move(watch_);
  }
  // Outside mu_: destroying a watch waits for its callback in flight, which takes mu_.
  watch.reset();
}

void ClusterView::reloadLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || reload_; });
    if (stopping_) return;
    reload_ = false;
    lock.unlock();
    const absl::Status s = load();
    lock.lock();
    if (!s.ok()) {
      spdlog::warn("event=cluster-view-reload-failed error=\"{}\"", std::string(s.message()));
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      reload_ = true;
    }
  }
}

absl::Status ClusterView::load() {
  // One list of the whole keyspace gives a consistent snapshot at one revision; the watch
  // resumes right after it, so nothing falls in between.
  auto all = store_.list("");
  if (!all.ok()) return all.status();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::OkStatus();
    records_.clear();
    live_.clear();
    block_owner_.clear();
    for (const auto& kv : all->kvs) applyKv(kv.key, &kv.value);
  }
  auto w = store_.watch("", all->revision + 1,
                        [this](const std::vector<WatchEvent>& events, const absl::Status& error) {
                          if (!error.ok()) {
                            spdlog::warn("event=cluster-view-reload error=\"{}\"",
                                         std::string(error.message()));
                            // On the reload thread: this one belongs to the watch it replaces.
                            std::lock_guard lock(mu_);
                            reload_ = true;
                            synced_ = false;
                            if (metrics_) metrics_->synced.set(0);
                            cv_.notify_all();
                            return;
                          }
                          apply(events);
                        });
  if (!w.ok()) return w.status();
  std::unique_ptr<Watch> old = std::move(*w);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) std::swap(old, watch_);
    synced_ = !stopping_;
    if (metrics_) {
      metrics_->relists.inc();
      metrics_->synced.set(synced_ ? 1 : 0);
    }
  }
  // Outside mu_ (see stop()): the replaced watch, or the new one when the view is stopping.
  old.reset();
  notify();
  return absl::OkStatus();
}

void ClusterView::notify() {
  std::lock_guard calls(notify_mu_);
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (const auto& [id, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) l();
}

void ClusterView::applyKv(const std::string& key, const std::string* value) {
  if (absl::StartsWith(key, keys::kNodes)) {
    const std::string name = key.substr(sizeof(keys::kNodes) - 1);
    if (value) {
      auto j = conf::parseJson(*value);
      records_[name] = NodeRecord::fromJson(j.ok() ? *j : nlohmann::json());
    } else {
      records_.erase(name);
    }
  } else if (absl::StartsWith(key, keys::kLive)) {
    const std::string name = key.substr(sizeof(keys::kLive) - 1);
    if (value) {
      live_[name] = true;
    } else {
      live_.erase(name);
    }
  } else if (absl::StartsWith(key, keys::kBlocks)) {
    if (value) {
      auto j = conf::parseJson(*value);
      block_owner_[key] = j.ok() && j->is_object() ? j->value("node", "") : "";
    } else {
      block_owner_.erase(key);
    }
  }
}

void ClusterView::apply(const std::vector<WatchEvent>& events) {
  if (metrics_) metrics_->events.inc(events.size());
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      applyKv(e.kv.key, e.type == WatchEvent::Type::kPut ? &e.kv.value : nullptr);
    }
  }
  notify();
}

bool ClusterView::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

std::vector<NodeView> ClusterView::nodes() const {
  std::lock_guard lock(mu_);
  std::map<std::string, NodeView> out;
  for (const auto& [name, rec] : records_) out[name].record = rec;
  for (const auto& [key, owner] : block_owner_) {
    if (auto p = keys::parseBlock(key); p && out.contains(owner)) out[owner].blocks.push_back(*p);
  }
  std::vector<NodeView> list;
  for (auto& [name, v] : out) {
    v.ready = live_.contains(name);
    list.push_back(std::move(v));
  }
  return list;
}

ClusterView::Subscription ClusterView::subscribe(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return Subscription(this, id);
}

void ClusterView::unsubscribe(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    listeners_.erase(id);
  }
  // A notification that copied the listener before the erase holds notify_mu_ until it is done.
  std::lock_guard calls(notify_mu_);
}

ClusterView::Subscription::Subscription(Subscription&& o) noexcept
    : view_(std::exchange(o.view_, nullptr)), id_(std::exchange(o.id_, 0)) {}

ClusterView::Subscription& ClusterView::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    reset();
    view_ = std::exchange(o.view_, nullptr);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

void ClusterView::Subscription::reset() {
  if (view_) view_->unsubscribe(id_);
  view_ = nullptr;
}

}  // namespace quasar::daemon
