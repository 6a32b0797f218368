#include "daemon/kube/node_annotator.h"

#include <spdlog/spdlog.h>

#include "daemon/kube/resource.h"

namespace quasar::kube {

NodeAnnotator::NodeAnnotator(ApiClient api, std::string node, Annotations wanted,
                             std::function<std::optional<Annotations>()> current,
                             std::chrono::milliseconds recheck)
    : api_(std::move(api)),
      node_(std::move(node)),
      wanted_(std::move(wanted)),
      current_(std::move(current)),
      recheck_(recheck) {}

void NodeAnnotator::start() {
  std::lock_guard lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void NodeAnnotator::notify() {
  std::lock_guard lock(mu_);
  kick_ = true;
  cv_.notify_all();
}

void NodeAnnotator::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int NodeAnnotator::patches() const {
  std::lock_guard lock(mu_);
  return patches_;
}

void NodeAnnotator::run() {
  std::chrono::milliseconds backoff(500);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, recheck_, [&] { return stopping_ || kick_; });
    if (stopping_) break;
    kick_ = false;
    lock.unlock();
    bool ok = true;
    const auto have = current_();
    bool differs = !have.has_value();
    for (const auto& [k, v] : wanted_) {
      if (have) {
        auto it = have->find(k);
        differs |= it == have->end() || it->second != v;
      }
    }
    if (differs) {
      nlohmann::json patch = {{"metadata", {{"annotations", wanted_}}}};
      auto r = api_.mergePatch(nodeResource(), "", node_, patch, std::chrono::seconds(10));
      if (r.ok()) {
        spdlog::info("event=node-annotated node={}", node_);
      } else {
        ok = false;
        spdlog::warn("event=node-annotate-failed node={} error=\"{}\"", node_,
                     std::string(r.status().message()));
      }
    }
    lock.lock();
    if (ok) {
      if (differs) ++patches_;
      backoff = std::chrono::milliseconds(500);
    } else {
      // Try again after the backoff, even if nothing changes meanwhile.
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      kick_ = true;
    }
  }
}

}  // namespace quasar::kube
