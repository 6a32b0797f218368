#pragma once
// quasard's informer-style view of the cluster's objects (Nodes, Namespaces, Pods,
// NetworkPolicies of both groups, FloatingIPPools, and the owners of pods: StatefulSets,
// Deployments, ReplicaSets), fed by an ObjectSource (object_source.h):
// typed caches per kind, indexes, queries and typed change events.
//
// - Parsing: every object the source hands over is parsed by its kind's parser
//   (daemon/cluster/objects/). An invalid object is logged, counted and treated as absent: a
//   cached object whose new version is invalid is deleted from the view.
// - Events: each applied change is an ObjectEvent with the old and the new object (kAdded: old
//   null; kDeleted: new null). A relist (replace()) becomes the minimal adds, updates and
//   deletes against the cache: an object whose resourceVersion is unchanged (or, without one,
//   whose content is unchanged) gives no event, so subscribers see no duplicates and lose
//   nothing across a relist. An event that changes nothing (an ADDED of what is cached, a
//   DELETED of what is not) is dropped the same way.
// - Indexes: by namespace (every kind), by label key=value and key (every kind; Pods, Namespaces
//   and Nodes are the ones selected by label), Pods by node name and by IP.
//
// Threading: every method is thread-safe. Objects are immutable and handed out as
// std::shared_ptr<const ...>: readers hold the lock only to copy pointers. Listeners run one at
// a time on the source's threads (or, for a subscription's replay, on the subscriber's thread)
// in the order the changes were applied, after the view already shows them; they must be quick
// and may read the view and subscribe or unsubscribe (also their own subscription).

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conf/ip.h"
#include "daemon/cluster/object_source.h"
#include "daemon/cluster/objects/object.h"

namespace quasar::daemon {

using ObjectPtr = std::shared_ptr<const objects::Object>;

struct ObjectEvent {
  objects::Kind kind = objects::Kind::kNode;
  ObjectEventType type = ObjectEventType::kAdded;
  ObjectPtr old_object;  // null for kAdded
  ObjectPtr new_object;  // null for kDeleted
  // The object the event is about: new_object, or old_object for kDeleted.
  const objects::Object& object() const { return new_object ? *new_object : *old_object; }
};

class ObjectView : public ObjectSink {
 public:
  // Called with the events of one change (one event) or of one relist (several), in order.
  using Listener = std::function<void(const std::vector<ObjectEvent>& events)>;

  // A listener's registration. Destroying it (or reset()) unsubscribes and waits for a call of
  // the listener in flight on another thread, so what the listener uses may go right after. It
  // may be destroyed from inside any listener. Must not outlive the view.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& o) noexcept;
    Subscription& operator=(Subscription&& o) noexcept;
    ~Subscription() { reset(); }
    void reset();

   private:
    friend class ObjectView;
    Subscription(ObjectView* view, uint64_t id) : view_(view), id_(id) {}
    ObjectView* view_ = nullptr;
    uint64_t id_ = 0;
  };

  // Counters for metrics, per kind.
  struct KindStats {
    bool synced = false;           // listed at least once
    bool watching = false;         // listed, and no lost() since the last replace() or event()
    uint64_t objects = 0;          // in the cache now
    uint64_t events_applied = 0;   // typed events produced (from watch events and relists)
    uint64_t relists = 0;          // replace() calls after the first
    uint64_t invalid_objects = 0;  // objects refused by their parser
    uint64_t watch_losses = 0;     // lost() calls
  };

  // `source` must outlive the view.
  explicit ObjectView(ObjectSource& source) : source_(source) {}
  ~ObjectView() override { stop(); }
  ObjectView(const ObjectView&) = delete;
  ObjectView& operator=(const ObjectView&) = delete;

  // Starts the source feeding this view; returns the source's start() error.
  absl::Status start();
  // Stops the source; no listener runs after it returns. Idempotent.
  void stop();

  // Every kind of the source has been listed at least once (readiness). Stays true while a
  // watch is down: the view then serves what it last saw.
  bool synced() const;
  // Waits until synced() or the deadline; returns synced().
  bool waitSynced(std::chrono::steady_clock::time_point deadline) const;

  // --- Queries. namespace_ "" means every namespace; cluster-scoped kinds have "".
  ObjectPtr get(objects::Kind kind, const std::string& namespace_, const std::string& name) const;
  // Sorted by namespace, then name.
  std::vector<ObjectPtr> list(objects::Kind kind, const std::string& namespace_ = "") const;
  // The objects whose labels match `selector` (matchLabels and matchExpressions), served from
  // the label index where the selector allows; sorted by namespace, then name.
  std::vector<ObjectPtr> select(objects::Kind kind, const objects::LabelSelector& selector,
                                const std::string& namespace_ = "") const;
  // Typed: get<objects::Pod>("shop", "web"), list<objects::Node>().
  template <class T>
  std::shared_ptr<const T> get(const std::string& namespace_, const std::string& name) const {
    return typed<T>(get(objects::kindOf<T>(), namespace_, name));
  }
  template <class T>
  std::vector<std::shared_ptr<const T>> list(const std::string& namespace_ = "") const {
    return typed<T>(list(objects::kindOf<T>(), namespace_));
  }
  template <class T>
  std::vector<std::shared_ptr<const T>> select(const objects::LabelSelector& selector,
                                               const std::string& namespace_ = "") const {
    return typed<T>(select(objects::kindOf<T>(), selector, namespace_));
  }
  // Pods whose spec.nodeName is `node`.
  std::vector<std::shared_ptr<const objects::Pod>> podsOnNode(const std::string& node) const;
  // The pod that has `ip` among its status.podIPs, cluster-wide; only pods with their own
  // address count (not hostNetwork, not Succeeded or Failed). Null when none.
  std::shared_ptr<const objects::Pod> podByIp(const conf::IpAddress& ip) const;

  // --- Events. `kinds` empty: every kind. With `replay`, the listener is first called (on this
  // thread, before subscribe() returns) with a kAdded event for every object of its kinds
  // already in the view, atomically with joining: no change falls between replay and events.
  [[nodiscard]] Subscription subscribe(std::vector<objects::Kind> kinds, Listener listener,
                                       bool replay = false);

  KindStats stats(objects::Kind kind) const;

  // --- ObjectSink, called by the source (or a test).
  void replace(objects::Kind kind, std::vector<nlohmann::json> objects) override;
  void event(objects::Kind kind, ObjectEventType type, nlohmann::json object) override;
  void lost(objects::Kind kind, const absl::Status& why) override;

 private:
  using NsName = std::pair<std::string, std::string>;  // namespace ("" cluster-scoped), name
  struct KindCache {
    std::map<NsName, ObjectPtr> objects;
    std::unordered_map<std::string, std::set<NsName>> by_label;      // "key=value"
    std::unordered_map<std::string, std::set<NsName>> by_label_key;  // "key"
    KindStats stats;
  };
  struct ListenerEntry {
    uint32_t kinds = 0;  // bit per Kind
    Listener listener;
  };

  template <class T>
  static std::shared_ptr<const T> typed(const ObjectPtr& o) {
    const T* t = o ? o->as<T>() : nullptr;
    return t ? std::shared_ptr<const T>(o, t) : nullptr;
  }
  template <class T>
  static std::vector<std::shared_ptr<const T>> typed(const std::vector<ObjectPtr>& os) {
    std::vector<std::shared_ptr<const T>> out;
    out.reserve(os.size());
    for (const auto& o : os) {
      if (auto t = typed<T>(o)) out.push_back(std::move(t));
    }
    return out;
  }

  // Parses `j` as `kind`; null (logged, counted) when invalid.
  ObjectPtr parse(objects::Kind kind, const nlohmann::json& j);
  // Under mu_ (exclusive): change the cache and indexes, appending the event if any.
  void upsertLocked(objects::Kind kind, ObjectPtr obj, std::vector<ObjectEvent>& events);
  void eraseLocked(objects::Kind kind, const NsName& key, std::vector<ObjectEvent>& events);
  void indexLocked(objects::Kind kind, const NsName& key, const objects::Object& obj, bool add);
  // Under notify_mu_: calls the listeners of the events' kinds.
  void deliver(const std::vector<ObjectEvent>& events);
  void markSynced(objects::Kind kind);
  void unsubscribe(uint64_t id);

  ObjectSource& source_;
  // Held while a change is applied and delivered, so listeners see changes in the order they
  // were applied, one at a time; recursive, so a listener may subscribe or unsubscribe.
  std::recursive_mutex notify_mu_;
  mutable std::shared_mutex mu_;  // the caches and indexes below
  std::array<KindCache, objects::kAllKinds.size()> caches_;
  std::unordered_map<std::string, std::set<NsName>> pods_by_node_;
  std::map<conf::IpAddress, std::set<NsName>> pods_by_ip_;

  mutable std::mutex listeners_mu_;
  std::map<uint64_t, std::shared_ptr<const ListenerEntry>> listeners_;
  uint64_t next_listener_ = 1;

  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
  uint32_t synced_kinds_ = 0;  // bit per Kind, under sync_mu_
};

}  // namespace quasar::daemon
