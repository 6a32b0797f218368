#include "daemon/cluster/store_object_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "conf/json_parse.h"

namespace quasar::daemon {

using nlohmann::json;
using objects::Kind;

namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

// The stored object as the sink gets it (see the header); an object with only the key's names
// when the value is not a JSON mapping. For Pods, the addresses their node published.
json toObject(const objects::ObjectKey& key, const KeyValue& kv, const PodAddressOverlay& ips) {
  auto parsed = conf::parseJson(kv.value);
  json j = parsed.ok() && parsed->is_object() ? *std::move(parsed) : json::object();
  if (!parsed.ok() || !j.is_object()) {
    spdlog::warn("event=object-not-json key={} error=\"{}\"", kv.key,
                 parsed.ok() ? "not a mapping" : std::string(parsed.status().message()));
  }
  json& meta = j["metadata"];
  if (!meta.is_object()) meta = json::object();
  meta["name"] = key.name;
  if (!key.namespace_.empty()) meta["namespace"] = key.namespace_;
  const auto uid = meta.find("uid");
  const std::string stated_uid =
      uid != meta.end() && uid->is_string() ? uid->get<std::string>() : "";
  if (stated_uid.empty()) meta["uid"] = absl::StrCat("quasar-store-", kv.create_revision);
  // The object changes when either the stored object or the addresses laid over it do.
  const int64_t ips_revision =
      key.kind == Kind::kPod ? ips.apply(j, key.namespace_, key.name, stated_uid) : 0;
  meta["resourceVersion"] = ips_revision == 0 ? std::to_string(kv.mod_revision)
                                              : absl::StrCat(kv.mod_revision, ".", ips_revision);
  return j;
}

// podips/<node>/<namespace>/<name>: the key's parts; nullopt for another key.
std::optional<PodAddresses> podAddressesKey(const std::string& key) {
  if (!absl::StartsWith(key, kPodIpsPrefix)) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(key, '/');
  if (parts.size() != 4) return std::nullopt;
  return PodAddresses{parts[1], parts[2], parts[3], "", {}};
}

}  // namespace

std::vector<Kind> StoreObjectSource::kinds() const {
  return {objects::kAllKinds.begin(), objects::kAllKinds.end()};
}

absl::Status StoreObjectSource::start(ObjectSink& sink) {
  std::lock_guard lock(mu_);
  if (worker_.joinable()) return absl::FailedPreconditionError("the source runs already");
  sink_ = &sink;
  stopping_ = false;
  reload_ = true;
  worker_ = std::thread([this] { run(); });
  return absl::OkStatus();
}

void StoreObjectSource::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::unique_ptr<Watch> watch;
  {
    std::lock_guard lock(mu_);
    watch = std::move(watch_);
  }
  // Outside mu_: destroying a watch waits for its callback in flight, which takes mu_.
  watch.reset();
}

absl::StatusOr<std::optional<json>> StoreObjectSource::fetch(Kind kind,
                                                             const std::string& namespace_,
                                                             const std::string& name,
                                                             std::chrono::milliseconds) {
  const objects::ObjectKey key{kind, objects::isNamespaced(kind) ? namespace_ : "", name};
  auto kv = store_.get(key.storeKey());
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::optional<json>();
  std::lock_guard state(state_mu_);
  return std::optional<json>(toObject(key, **kv, ips_));
}

void StoreObjectSource::run() {
  auto backoff = kMinBackoff;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || reload_; });
    if (stopping_) return;
    reload_ = false;
    // Consumed here: a watch that fails while load() runs (its events may already have been
    // delivered) records a new error, which the next pass reports instead of this one.
    const absl::Status why = std::exchange(watch_error_, absl::OkStatus());
    lock.unlock();
    if (!why.ok()) {
      for (Kind k : objects::kAllKinds) sink_->lost(k, why);
    }
    const absl::Status s = load();
    lock.lock();
    if (s.ok()) {
      backoff = kMinBackoff;
      continue;
    }
    spdlog::warn("event=object-source-list-failed store={} error=\"{}\" retry_ms={}",
                 store_.describe(), std::string(s.message()),
                 std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count());
    watch_error_ = s;
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    reload_ = true;
  }
}

absl::Status StoreObjectSource::load() {
  // One list of the whole keyspace: the objects and the pod addresses at one revision.
  auto listed = store_.list("");
  if (!listed.ok()) return listed.status();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::OkStatus();
  }
  {
    std::lock_guard state(state_mu_);
    pods_.clear();
    ips_.clear();
    std::vector<std::pair<objects::ObjectKey, const KeyValue*>> objs;
    for (const auto& kv : listed->kvs) {
      if (auto key = objects::parseStoreKey(kv.key)) {
        objs.emplace_back(*key, &kv);
        if (key->kind == Kind::kPod) pods_[{key->namespace_, key->name}] = kv;
      } else if (auto p = parsePodAddresses(kv.key, kv.value)) {
        ips_.put(std::move(*p), kv.mod_revision);
      }
    }
    std::map<Kind, std::vector<json>> by_kind;
    for (Kind k : objects::kAllKinds) by_kind[k];
    for (const auto& [key, kv] : objs) by_kind[key.kind].push_back(toObject(key, *kv, ips_));
    for (auto& [kind, list] : by_kind) sink_->replace(kind, std::move(list));
  }
  // From the revision after the list: nothing falls between the two.
  auto w = store_.watch("", listed->revision + 1,
                        [this](const std::vector<WatchEvent>& events, const absl::Status& error) {
                          onWatch(events, error);
                        });
  if (!w.ok()) return w.status();
  std::unique_ptr<Watch> old = std::move(*w);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) std::swap(old, watch_);
  }
  // Outside mu_ (see stop()): the replaced watch, or the new one when the source is stopping.
  old.reset();
  return absl::OkStatus();
}

void StoreObjectSource::onWatch(const std::vector<WatchEvent>& events, const absl::Status& error) {
  if (!error.ok()) {
    // The watch ends here (no more calls follow): list and watch again on the worker thread.
    spdlog::warn("event=object-source-watch-lost store={} error=\"{}\"", store_.describe(),
                 std::string(error.message()));
    std::lock_guard lock(mu_);
    reload_ = true;
    watch_error_ = error;
    cv_.notify_all();
    return;
  }
  std::lock_guard state(state_mu_);
  for (const auto& e : events) {
    const bool put = e.type == WatchEvent::Type::kPut;
    if (auto key = objects::parseStoreKey(e.kv.key)) {
      const std::pair<std::string, std::string> name{key->namespace_, key->name};
      if (!put) {
        if (key->kind == Kind::kPod) pods_.erase(name);
        json meta = {{"name", key->name}};
        if (!key->namespace_.empty()) meta["namespace"] = key->namespace_;
        sink_->event(key->kind, ObjectEventType::kDeleted, json{{"metadata", std::move(meta)}});
        continue;
      }
      if (key->kind == Kind::kPod) pods_[name] = e.kv;
      sink_->event(key->kind,
                   e.kv.version == 1 ? ObjectEventType::kAdded : ObjectEventType::kModified,
                   toObject(*key, e.kv, ips_));
    } else if (auto where = podAddressesKey(e.kv.key)) {
      auto record = put ? parsePodAddresses(e.kv.key, e.kv.value) : std::nullopt;
      if (record) {
        ips_.put(std::move(*record), e.kv.mod_revision);
      } else {
        ips_.erase(where->node, where->namespace_, where->name);
      }
      // The pod, if there is one, with its addresses as they are now.
      auto pod = pods_.find({where->namespace_, where->name});
      if (pod == pods_.end()) continue;
      const objects::ObjectKey key{Kind::kPod, where->namespace_, where->name};
      sink_->event(Kind::kPod, ObjectEventType::kModified, toObject(key, pod->second, ips_));
    }
  }
}

}  // namespace quasar::daemon
