#pragma once
// This node's own pods, fed by a watch narrowed to them (the Kubernetes API source's second pod
// watch, fieldSelector=spec.nodeName=<node>): what the ADD path asks about first. The watch is
// small (a node runs ~100 pods, not the cluster's 10,000), so it delivers a pod the kubelet was
// just given sooner than the watch of every pod, with its full annotations. The object view
// keeps every pod as before; this index holds only the node's (parsed, not the JSON).
//
// It is an ObjectSink (object_source.h) for kind Pod: replace() after each (re)list, event() for
// each change. A pod whose spec.nodeName is not this node is not kept (a server that ignored
// the selector, or a pod moved away: treated as its deletion). An invalid pod is logged,
// counted and treated as absent, as the view does.
//
// Threading: thread-safe; the sink calls come from the source's thread, readers from any.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "daemon/cluster/object_source.h"
#include "daemon/cluster/objects/pod.h"

namespace quasar::daemon {

class LocalPods final : public ObjectSink {
 public:
  using PodPtr = std::shared_ptr<const objects::Pod>;

  struct Stats {
    bool synced = false;          // listed at least once
    bool watching = false;        // listed, and no lost() since the last replace() or event()
    uint64_t objects = 0;         // pods held now
    uint64_t events_applied = 0;  // changes applied from the watch (events that changed nothing
                                  // are not counted)
    uint64_t relists = 0;         // replace() calls after the first
    uint64_t invalid_objects = 0;
    uint64_t watch_losses = 0;
  };

  explicit LocalPods(std::string node) : node_(std::move(node)) {}

  const std::string& node() const { return node_; }
  // The pod, or null when this node's watch does not have it.
  PodPtr get(const std::string& namespace_, const std::string& name) const;
  // Sorted by namespace, then name.
  std::vector<PodPtr> list() const;
  Stats stats() const;

  // ObjectSink. Calls for other kinds than Pod are ignored.
  void replace(objects::Kind kind, std::vector<nlohmann::json> objects) override;
  void event(objects::Kind kind, ObjectEventType type, nlohmann::json object) override;
  void lost(objects::Kind kind, const absl::Status& why) override;

 private:
  using NsName = std::pair<std::string, std::string>;
  // Parses `j`; null when invalid (logged, counted under mu_).
  PodPtr parse(const nlohmann::json& j);

  const std::string node_;
  mutable std::mutex mu_;
  std::map<NsName, PodPtr> pods_;
  Stats stats_;
};

}  // namespace quasar::daemon
