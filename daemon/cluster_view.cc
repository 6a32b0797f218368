#include "daemon/cluster_view.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "absl/strings/match.h"
#include "conf/json_parse.h"
#include "daemon/cluster_keys.h"

namespace quasar::daemon {

absl::Status ClusterView::start() { return load(); }

absl::Status ClusterView::load() {
  // One list of the whole keyspace gives a consistent snapshot at one revision; the watch
  // resumes right after it, so nothing falls in between.
  auto all = store_.list("");
  if (!all.ok()) return all.status();
  {
    std::lock_guard lock(mu_);
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
                            // Not from the watch's own thread, which the reload replaces.
                            std::thread([this] {
                              while (!load().ok()) {
                                std::this_thread::sleep_for(std::chrono::seconds(1));
                              }
                            }).detach();
                            return;
                          }
                          apply(events);
                        });
  if (!w.ok()) return w.status();
  watch_ = std::move(*w);
  for (const auto& l : listeners_) l();
  return absl::OkStatus();
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
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      applyKv(e.kv.key, e.type == WatchEvent::Type::kPut ? &e.kv.value : nullptr);
    }
    listeners = listeners_;
  }
  for (const auto& l : listeners) l();
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

void ClusterView::subscribe(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace quasar::daemon
