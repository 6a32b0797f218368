#include "daemon/api/view_pod_lookup.h"

#include "daemon/cluster/objects/pod.h"

namespace quasar::daemon {
namespace {

PodFacts factsOf(std::shared_ptr<const objects::Pod> pod, const char* source) {
  PodFacts f{pod->metadata.uid, pod->metadata.labels, pod->metadata.annotations, source, nullptr};
  f.object = std::move(pod);
  return f;
}

}  // namespace

absl::StatusOr<std::optional<PodFacts>> ViewPodLookup::find(const std::string& namespace_,
                                                            const std::string& name,
                                                            const std::string& uid,
                                                            std::chrono::milliseconds deadline) {
  // A pod of the same name but another uid is an older incarnation: the new one is not in the
  // index or the view yet.
  if (local_ != nullptr) {
    auto mine = local_->get(namespace_, name);
    if (mine && (uid.empty() || mine->metadata.uid == uid)) {
      return std::optional<PodFacts>(factsOf(mine, "local"));
    }
  }
  auto cached = view_.get<objects::Pod>(namespace_, name);
  if (cached && (uid.empty() || cached->metadata.uid == uid)) {
    return std::optional<PodFacts>(factsOf(cached, "view"));
  }
  auto fetched = source_.fetch(objects::Kind::kPod, namespace_, name, deadline);
  if (!fetched.ok()) return fetched.status();
  if (!fetched->has_value()) return std::optional<PodFacts>();
  auto pod = objects::parsePod(**fetched);
  if (!pod.ok()) return pod.status();
  if (!uid.empty() && pod->metadata.uid != uid) return std::optional<PodFacts>();
  return std::optional<PodFacts>(
      factsOf(std::make_shared<const objects::Pod>(std::move(*pod)), "direct"));
}

}  // namespace quasar::daemon
