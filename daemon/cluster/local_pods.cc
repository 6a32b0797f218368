#include "daemon/cluster/local_pods.h"

#include <spdlog/spdlog.h>

namespace quasar::daemon {

LocalPods::PodPtr LocalPods::get(const std::string& namespace_, const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find({namespace_, name});
  return it == pods_.end() ? nullptr : it->second;
}

std::vector<LocalPods::PodPtr> LocalPods::list() const {
  std::lock_guard lock(mu_);
  std::vector<PodPtr> out;
  out.reserve(pods_.size());
  for (const auto& [key, pod] : pods_) out.push_back(pod);
  return out;
}

LocalPods::Stats LocalPods::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.objects = pods_.size();
  return s;
}

LocalPods::PodPtr LocalPods::parse(const nlohmann::json& j) {
  auto pod = objects::parsePod(j);
  if (pod.ok()) return std::make_shared<const objects::Pod>(*std::move(pod));
  spdlog::warn("event=object-invalid kind=Pod watch=local error=\"{}\"",
               std::string(pod.status().message()));
  std::lock_guard lock(mu_);
  ++stats_.invalid_objects;
  return nullptr;
}

void LocalPods::replace(objects::Kind kind, std::vector<nlohmann::json> objects) {
  if (kind != objects::Kind::kPod) return;
  std::map<NsName, PodPtr> now;
  for (const auto& j : objects) {
    PodPtr pod = parse(j);
    if (pod && pod->node_name == node_) {
      NsName key{pod->metadata.namespace_, pod->metadata.name};
      now.emplace(std::move(key), std::move(pod));
    }
  }
  std::lock_guard lock(mu_);
  pods_ = std::move(now);
  if (stats_.synced) ++stats_.relists;
  stats_.synced = true;
  stats_.watching = true;
}

void LocalPods::event(objects::Kind kind, ObjectEventType type, nlohmann::json object) {
  if (kind != objects::Kind::kPod) return;
  PodPtr pod;
  NsName key;
  if (type == ObjectEventType::kDeleted) {
    // A tombstone carries only the name (object_source.h): not parsed.
    const auto& m = object.value("metadata", nlohmann::json::object());
    key = {m.value("namespace", ""), m.value("name", "")};
  } else {
    pod = parse(object);
    if (!pod) {
      const auto& m = object.value("metadata", nlohmann::json::object());
      key = {m.value("namespace", ""), m.value("name", "")};
    } else {
      key = {pod->metadata.namespace_, pod->metadata.name};
      if (pod->node_name != node_) pod.reset();  // not (or no longer) this node's
    }
  }
  std::lock_guard lock(mu_);
  stats_.watching = true;
  if (pod) {
    PodPtr& slot = pods_[key];
    const bool same = slot && !pod->metadata.resource_version.empty() &&
                      slot->metadata.resource_version == pod->metadata.resource_version;
    slot = std::move(pod);
    if (!same) ++stats_.events_applied;
  } else if (pods_.erase(key) > 0) {
    ++stats_.events_applied;
  }
}

void LocalPods::lost(objects::Kind kind, const absl::Status& why) {
  if (kind != objects::Kind::kPod) return;
  (void)why;  // logged by the source
  std::lock_guard lock(mu_);
  stats_.watching = false;
  ++stats_.watch_losses;
}

}  // namespace quasar::daemon
