#include "daemon/cluster/object_view.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace quasar::daemon {

using objects::Kind;
using objects::Object;

const char* toString(ObjectEventType type) {
  switch (type) {
    case ObjectEventType::kAdded:
      return "ADDED";
    case ObjectEventType::kModified:
      return "MODIFIED";
    case ObjectEventType::kDeleted:
      return "DELETED";
  }
  return "?";
}

namespace {

size_t idx(Kind k) { return static_cast<size_t>(k); }
uint32_t bit(Kind k) { return 1u << idx(k); }

uint32_t kindBits(const std::vector<Kind>& kinds) {
  if (kinds.empty()) return ~0u;
  uint32_t bits = 0;
  for (Kind k : kinds) bits |= bit(k);
  return bits;
}

// Equal resourceVersions mean an unchanged object; objects without one (a source that does not
// set it) compare by content.
bool unchanged(const Object& a, const Object& b) {
  const std::string& ra = a.metadata().resource_version;
  const std::string& rb = b.metadata().resource_version;
  if (!ra.empty() || !rb.empty()) return ra == rb;
  return a == b;
}

// The pod's own addresses for the IP index: none for host-network and finished pods.
const std::vector<conf::IpAddress>* ownIps(const Object& o) {
  const objects::Pod* p = o.as<objects::Pod>();
  if (p == nullptr || p->host_network || p->terminated()) return nullptr;
  return &p->pod_ips;
}

}  // namespace

absl::Status ObjectView::start() { return source_.start(*this); }

void ObjectView::stop() { source_.stop(); }

bool ObjectView::synced() const {
  uint32_t want = 0;
  for (Kind k : source_.kinds()) want |= bit(k);
  std::lock_guard lock(sync_mu_);
  return (synced_kinds_ & want) == want;
}

bool ObjectView::waitSynced(std::chrono::steady_clock::time_point deadline) const {
  uint32_t want = 0;
  for (Kind k : source_.kinds()) want |= bit(k);
  std::unique_lock lock(sync_mu_);
  return sync_cv_.wait_until(lock, deadline, [&] { return (synced_kinds_ & want) == want; });
}

void ObjectView::markSynced(Kind kind) {
  {
    std::lock_guard lock(sync_mu_);
    synced_kinds_ |= bit(kind);
  }
  sync_cv_.notify_all();
}

ObjectPtr ObjectView::parse(Kind kind, const nlohmann::json& j) {
  auto o = objects::parseObject(kind, j);
  if (o.ok()) return std::make_shared<const Object>(*std::move(o));
  spdlog::warn("event=object-invalid kind={} error=\"{}\"", objects::kindName(kind),
               std::string(o.status().message()));
  std::unique_lock lock(mu_);
  ++caches_[idx(kind)].stats.invalid_objects;
  return nullptr;
}

void ObjectView::indexLocked(Kind kind, const NsName& key, const Object& obj, bool add) {
  KindCache& c = caches_[idx(kind)];
  const auto update = [&](auto& index, const auto& index_key) {
    if (add) {
      index[index_key].insert(key);
      return;
    }
    auto it = index.find(index_key);
    if (it == index.end()) return;
    it->second.erase(key);
    if (it->second.empty()) index.erase(it);
  };
  for (const auto& [k, v] : obj.metadata().labels) {
    update(c.by_label, k + "=" + v);
    update(c.by_label_key, k);
  }
  if (const objects::Pod* p = obj.as<objects::Pod>(); p != nullptr && !p->node_name.empty()) {
    update(pods_by_node_, p->node_name);
  }
  if (const auto* ips = ownIps(obj)) {
    for (const auto& ip : *ips) update(pods_by_ip_, ip);
  }
}

void ObjectView::upsertLocked(Kind kind, ObjectPtr obj, std::vector<ObjectEvent>& events) {
  KindCache& c = caches_[idx(kind)];
  NsName key{obj->metadata().namespace_, obj->metadata().name};
  auto it = c.objects.find(key);
  ObjectPtr old;
  if (it != c.objects.end()) {
    if (unchanged(*it->second, *obj)) return;
    old = it->second;
    indexLocked(kind, key, *old, false);
    it->second = obj;
  } else {
    c.objects.emplace(key, obj);
  }
  indexLocked(kind, key, *obj, true);
  ++c.stats.events_applied;
  events.push_back({kind, old ? ObjectEventType::kModified : ObjectEventType::kAdded,
                    std::move(old), std::move(obj)});
}

void ObjectView::eraseLocked(Kind kind, const NsName& key, std::vector<ObjectEvent>& events) {
  KindCache& c = caches_[idx(kind)];
  auto it = c.objects.find(key);
  if (it == c.objects.end()) return;
  ObjectPtr old = std::move(it->second);
  c.objects.erase(it);
  indexLocked(kind, key, *old, false);
  ++c.stats.events_applied;
  events.push_back({kind, ObjectEventType::kDeleted, std::move(old), nullptr});
}

void ObjectView::replace(Kind kind, std::vector<nlohmann::json> objects) {
  // Parsing takes the longest (a relist of 10,000 pods): before any lock.
  std::map<NsName, ObjectPtr> fresh;
  for (const auto& j : objects) {
    if (ObjectPtr o = parse(kind, j)) {
      fresh[{o->metadata().namespace_, o->metadata().name}] = std::move(o);
    }
  }
  objects.clear();
  std::lock_guard calls(notify_mu_);
  std::vector<ObjectEvent> events;
  {
    std::unique_lock lock(mu_);
    KindCache& c = caches_[idx(kind)];
    std::vector<NsName> gone;
    for (const auto& [key, o] : c.objects) {
      if (!fresh.contains(key)) gone.push_back(key);
    }
    for (const auto& key : gone) eraseLocked(kind, key, events);
    for (auto& [key, o] : fresh) upsertLocked(kind, std::move(o), events);
    if (c.stats.synced) ++c.stats.relists;
    c.stats.synced = true;
    c.stats.watching = true;
    c.stats.objects = c.objects.size();
  }
  spdlog::info("event=object-view-list kind={} objects={} changes={}", objects::kindName(kind),
               fresh.size(), events.size());
  markSynced(kind);
  deliver(events);
}

void ObjectView::event(Kind kind, ObjectEventType type, nlohmann::json object) {
  // A deletion needs only the name: the deleted object's last state is the cached one. An
  // invalid new version means the object as quasar knew it is gone (as a relist would find).
  ObjectPtr parsed = type == ObjectEventType::kDeleted ? nullptr : parse(kind, object);
  const auto key = parsed ? std::nullopt : objects::keyOf(kind, object);
  if (!parsed && !key) {
    spdlog::warn("event=object-invalid kind={} type={} error=\"no metadata.name\"",
                 objects::kindName(kind), toString(type));
    return;
  }
  object = nullptr;
  std::lock_guard calls(notify_mu_);
  std::vector<ObjectEvent> events;
  {
    std::unique_lock lock(mu_);
    if (parsed) {
      upsertLocked(kind, std::move(parsed), events);
    } else {
      eraseLocked(kind, {key->namespace_, key->name}, events);
    }
    KindCache& c = caches_[idx(kind)];
    c.stats.watching = c.stats.synced;
    c.stats.objects = c.objects.size();
  }
  deliver(events);
}

void ObjectView::lost(Kind kind, const absl::Status& why) {
  spdlog::debug("event=object-watch-lost kind={} error=\"{}\"", objects::kindName(kind),
                std::string(why.message()));
  std::unique_lock lock(mu_);
  KindCache& c = caches_[idx(kind)];
  c.stats.watching = false;
  ++c.stats.watch_losses;
}

void ObjectView::deliver(const std::vector<ObjectEvent>& events) {
  if (events.empty()) return;
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& [id, l] : listeners_) ids.push_back(id);
  }
  std::vector<ObjectEvent> mine;
  for (uint64_t id : ids) {
    std::shared_ptr<const ListenerEntry> l;
    {
      // A listener may have unsubscribed another one meanwhile: never call it after that.
      std::lock_guard lock(listeners_mu_);
      auto it = listeners_.find(id);
      if (it == listeners_.end()) continue;
      l = it->second;
    }
    mine.clear();
    for (const auto& e : events) {
      if (l->kinds & bit(e.kind)) mine.push_back(e);
    }
    if (!mine.empty()) l->listener(mine);
  }
}

ObjectView::Subscription ObjectView::subscribe(std::vector<Kind> kinds, Listener listener,
                                               bool replay) {
  auto entry = std::make_shared<ListenerEntry>();
  entry->kinds = kindBits(kinds);
  entry->listener = std::move(listener);
  // No change is applied while notify_mu_ is held: the replay and the first event that follows
  // it neither overlap nor leave a gap.
  std::lock_guard calls(notify_mu_);
  uint64_t id;
  {
    std::lock_guard lock(listeners_mu_);
    id = next_listener_++;
    listeners_.emplace(id, entry);
  }
  if (replay) {
    std::vector<ObjectEvent> adds;
    {
      std::shared_lock lock(mu_);
      for (Kind k : objects::kAllKinds) {
        if (!(entry->kinds & bit(k))) continue;
        for (const auto& [key, o] : caches_[idx(k)].objects) {
          adds.push_back({k, ObjectEventType::kAdded, nullptr, o});
        }
      }
    }
    if (!adds.empty()) entry->listener(adds);
  }
  return Subscription(this, id);
}

void ObjectView::unsubscribe(uint64_t id) {
  {
    std::lock_guard lock(listeners_mu_);
    listeners_.erase(id);
  }
  // A delivery on another thread that already took the listener holds notify_mu_ until it is
  // done; on this thread (unsubscribing from inside a listener) the lock is ours already.
  std::lock_guard calls(notify_mu_);
}

ObjectPtr ObjectView::get(Kind kind, const std::string& namespace_, const std::string& name) const {
  std::shared_lock lock(mu_);
  const auto& objs = caches_[idx(kind)].objects;
  auto it = objs.find({objects::isNamespaced(kind) ? namespace_ : "", name});
  return it == objs.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> ObjectView::list(Kind kind, const std::string& namespace_) const {
  std::vector<ObjectPtr> out;
  std::shared_lock lock(mu_);
  const auto& objs = caches_[idx(kind)].objects;
  if (namespace_.empty() || !objects::isNamespaced(kind)) {
    out.reserve(objs.size());
    for (const auto& [key, o] : objs) out.push_back(o);
    return out;
  }
  for (auto it = objs.lower_bound({namespace_, ""});
       it != objs.end() && it->first.first == namespace_; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::vector<ObjectPtr> ObjectView::select(Kind kind, const objects::LabelSelector& selector,
                                          const std::string& namespace_) const {
  const bool all_namespaces = namespace_.empty() || !objects::isNamespaced(kind);
  std::vector<ObjectPtr> out;
  std::shared_lock lock(mu_);
  const KindCache& c = caches_[idx(kind)];
  // The smallest candidate set any single requirement gives; none (only NotIn and
  // DoesNotExist) means every object of the kind.
  const std::set<NsName>* best = nullptr;
  std::set<NsName> in_union;  // for the first In requirement, the union of its values' sets
  bool in_used = false;
  static const std::set<NsName> kNone;
  const auto consider = [&](const std::set<NsName>* s) {
    if (s == nullptr) s = &kNone;
    if (best == nullptr || s->size() < best->size()) best = s;
  };
  const auto lookup = [](const auto& index, const std::string& k) -> const std::set<NsName>* {
    auto it = index.find(k);
    return it == index.end() ? nullptr : &it->second;
  };
  for (const auto& [k, v] : selector.match_labels) consider(lookup(c.by_label, k + "=" + v));
  for (const auto& e : selector.match_expressions) {
    using Op = objects::LabelSelectorRequirement::Operator;
    if (e.op == Op::kExists) consider(lookup(c.by_label_key, e.key));
    if (e.op == Op::kIn && !in_used) {
      in_used = true;
      for (const auto& v : e.values) {
        if (const auto* s = lookup(c.by_label, e.key + "=" + v))
          in_union.insert(s->begin(), s->end());
      }
      consider(&in_union);
    }
  }
  const auto take = [&](const NsName& key, const ObjectPtr& o) {
    if (!all_namespaces && key.first != namespace_) return;
    if (selector.matches(o->metadata().labels)) out.push_back(o);
  };
  if (best != nullptr) {
    for (const auto& key : *best) {
      auto it = c.objects.find(key);
      if (it != c.objects.end()) take(key, it->second);
    }
  } else if (all_namespaces) {
    for (const auto& [key, o] : c.objects) take(key, o);
  } else {
    for (auto it = c.objects.lower_bound({namespace_, ""});
         it != c.objects.end() && it->first.first == namespace_; ++it) {
      take(it->first, it->second);
    }
  }
  return out;
}

std::vector<std::shared_ptr<const objects::Pod>> ObjectView::podsOnNode(
    const std::string& node) const {
  std::vector<ObjectPtr> found;
  {
    std::shared_lock lock(mu_);
    auto it = pods_by_node_.find(node);
    if (it == pods_by_node_.end()) return {};
    const auto& pods = caches_[idx(Kind::kPod)].objects;
    for (const auto& key : it->second) {
      if (auto p = pods.find(key); p != pods.end()) found.push_back(p->second);
    }
  }
  return typed<objects::Pod>(found);
}

std::shared_ptr<const objects::Pod> ObjectView::podByIp(const conf::IpAddress& ip) const {
  std::shared_lock lock(mu_);
  auto it = pods_by_ip_.find(ip);
  if (it == pods_by_ip_.end() || it->second.empty()) return nullptr;
  const auto& pods = caches_[idx(Kind::kPod)].objects;
  auto p = pods.find(*it->second.begin());
  return p == pods.end() ? nullptr : typed<objects::Pod>(p->second);
}

ObjectView::KindStats ObjectView::stats(Kind kind) const {
  std::shared_lock lock(mu_);
  return caches_[idx(kind)].stats;
}

ObjectView::Subscription::Subscription(Subscription&& o) noexcept
    : view_(std::exchange(o.view_, nullptr)), id_(std::exchange(o.id_, 0)) {}

ObjectView::Subscription& ObjectView::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    reset();
    view_ = std::exchange(o.view_, nullptr);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

void ObjectView::Subscription::reset() {
  if (view_) view_->unsubscribe(id_);
  view_ = nullptr;
}

}  // namespace quasar::daemon
