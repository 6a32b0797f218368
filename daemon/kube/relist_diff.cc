#include "daemon/kube/relist_diff.h"

#include <algorithm>
#include <unordered_set>

#include "daemon/kube/watch_event.h"

namespace quasar::kube {
namespace {

std::string metaString(const nlohmann::json& meta, const char* key) {
  auto it = meta.find(key);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

KnownObject knownFrom(const nlohmann::json& object) {
  KnownObject k;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return k;
  k.namespace_name = metaString(*meta, "namespace");
  k.name = metaString(*meta, "name");
  k.uid = metaString(*meta, "uid");
  k.resource_version = metaString(*meta, "resourceVersion");
  return k;
}

RelistDiff diffRelist(const KnownObjects& known, const std::vector<nlohmann::json>& listed) {
  RelistDiff diff;
  std::unordered_set<std::string> seen;
  seen.reserve(listed.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    const std::string key = objectKey(listed[i]);
    if (key.empty()) continue;
    seen.insert(key);
    auto it = known.find(key);
    if (it == known.end()) {
      diff.added.push_back(i);
      continue;
    }
    const KnownObject now = knownFrom(listed[i]);
    if (now.uid != it->second.uid) {
      diff.deleted.push_back(key);
      diff.added.push_back(i);
    } else if (now.resource_version != it->second.resource_version) {
      diff.modified.push_back(i);
    }
  }
  for (const auto& [key, _] : known) {
    if (!seen.contains(key)) diff.deleted.push_back(key);
  }
  std::sort(diff.deleted.begin(), diff.deleted.end());
  return diff;
}

nlohmann::json tombstone(const std::string& kind, const std::string& api_version,
                         const KnownObject& known) {
  nlohmann::json meta = {{"name", known.name}, {"resourceVersion", known.resource_version}};
  if (!known.namespace_name.empty()) meta["namespace"] = known.namespace_name;
  if (!known.uid.empty()) meta["uid"] = known.uid;
  return {{"kind", kind}, {"apiVersion", api_version}, {"metadata", std::move(meta)}};
}

}  // namespace quasar::kube
