#include "daemon/kube/reflector.h"

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "daemon/kube/api_status.h"
#include "spdlog/spdlog.h"

namespace quasar::kube {

const char* watchStateName(WatchState s) {
  switch (s) {
    case WatchState::kStarting:
      return "starting";
    case WatchState::kListing:
      return "listing";
    case WatchState::kWatching:
      return "watching";
    case WatchState::kBackoff:
      return "backoff";
    case WatchState::kStopped:
      return "stopped";
  }
  return "?";
}

namespace {

// Exponential backoff with jitter: the n-th delay is uniform in [d/2, d], d = initial * 2^n,
// capped at `max`.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(std::max<std::chrono::milliseconds>(initial, std::chrono::milliseconds(1))),
        max_(std::max(max, initial_)),
        rng_(std::random_device{}()) {}

  std::chrono::milliseconds next() {
    const auto d = current_.count() == 0 ? initial_ : std::min(current_ * 2, max_);
    current_ = d;
    std::uniform_int_distribution<int64_t> dist(d.count() / 2, d.count());
    return std::chrono::milliseconds(dist(rng_));
  }
  void reset() { current_ = std::chrono::milliseconds(0); }
  int64_t randomIn(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng_);
  }

 private:
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  std::chrono::milliseconds current_{0};
  std::mt19937_64 rng_;
};

// The real server answers a watch from a version it has not reached yet (it restarted with a
// fresh store, or a client moved between servers) with this: list again.
bool isTooLargeResourceVersion(const absl::Status& s) {
  return absl::StrContains(std::string(s.message()), "Too large resource version");
}

}  // namespace

Reflector::Reflector(ApiClient api, ReflectorOptions options, ReflectorSink& sink,
                     ReflectorObserver* observer)
    : api_(std::move(api)),
      options_(std::move(options)),
      kind_(options_.kind.empty() ? options_.resource.kind : options_.kind),
      api_version_(options_.resource.apiVersion()),
      sink_(sink),
      observer_(observer) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  std::call_once(started_, [this] { thread_ = std::thread([this] { run(); }); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  cancel_.cancel();
  if (thread_.joinable()) thread_.join();
}

bool Reflector::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool Reflector::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Reflector::waitSynced(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return synced_; });
}

std::string Reflector::resourceVersion() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

void Reflector::setResourceVersion(std::string rv) {
  if (rv.empty()) return;
  std::lock_guard lock(mu_);
  resource_version_ = std::move(rv);
}

void Reflector::setState(WatchState s) {
  if (state_.exchange(s) != s && observer_ != nullptr) observer_->onWatchState(kind_, s);
}

void Reflector::noteError(const absl::Status& s) {
  errors_.fetch_add(1);
  if (observer_ != nullptr) observer_->onError(kind_, s);
}

bool Reflector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Reflector::deliver(EventType type, const nlohmann::json& object) {
  sink_.onEvent(kind_, type, object);
}

absl::Status Reflector::listAndDeliver() {
  ListOptions lo;
  lo.namespace_name = options_.namespace_name;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  lo.resource_version = "";  // the newest state: never older than what the sink has
  auto list = api_.list(options_.resource, lo, &cancel_, options_.list_deadline);
  if (!list.ok()) return list.status();

  KnownObjects now;
  now.reserve(list->items.size());
  for (const auto& item : list->items) {
    std::string key = objectKey(item);
    if (!key.empty()) now.emplace(std::move(key), knownFrom(item));
  }
  const bool relist = listed_once_;
  if (relist) {
    relists_.fetch_add(1);  // before the sink sees the result, so an observer of it sees this
    const RelistDiff diff = diffRelist(known_, list->items);
    for (const auto& key : diff.deleted) {
      deliver(EventType::kDeleted, tombstone(kind_, api_version_, known_.at(key)));
    }
    for (size_t i : diff.added) deliver(EventType::kAdded, list->items[i]);
    for (size_t i : diff.modified) deliver(EventType::kModified, list->items[i]);
    spdlog::info("kube: relisted kind={} objects={} added={} modified={} deleted={} rv={}", kind_,
                 list->items.size(), diff.added.size(), diff.modified.size(), diff.deleted.size(),
                 list->resource_version);
  }
  known_ = std::move(now);
  listed_once_ = true;
  const size_t count = list->items.size();
  sink_.onSynced(kind_, std::move(list->items));
  {
    std::lock_guard lock(mu_);
    resource_version_ = list->resource_version;
    synced_ = true;
  }
  cv_.notify_all();
  if (observer_ != nullptr) observer_->onList(kind_, relist, count);
  return absl::OkStatus();
}

absl::Status Reflector::handleEvent(WatchEvent&& ev) {
  std::string rv = resourceVersionOf(ev.object);
  if (ev.type == EventType::kBookmark) {
    setResourceVersion(std::move(rv));
    return absl::OkStatus();
  }
  const std::string key = objectKey(ev.object);
  if (key.empty()) {
    spdlog::warn("kube: watch kind={} {} event without a name, ignored", kind_,
                 eventTypeName(ev.type));
    setResourceVersion(std::move(rv));
    return absl::OkStatus();
  }
  auto it = known_.find(key);
  if (ev.type == EventType::kDeleted) {
    if (it != known_.end()) {
      known_.erase(it);
      deliver(EventType::kDeleted, ev.object);
    }
  } else {
    KnownObject k = knownFrom(ev.object);
    if (it == known_.end()) {
      known_.emplace(key, std::move(k));
      deliver(EventType::kAdded, ev.object);
    } else if (it->second.uid != k.uid && !k.uid.empty()) {
      // Gone and made again under the same name, its DELETED not seen: say both.
      deliver(EventType::kDeleted, tombstone(kind_, api_version_, it->second));
      it->second = std::move(k);
      deliver(EventType::kAdded, ev.object);
    } else if (it->second.resource_version != k.resource_version) {
      it->second = std::move(k);
      deliver(EventType::kModified, ev.object);
    }  // else a repeat of what the sink has
  }
  setResourceVersion(std::move(rv));
  return absl::OkStatus();
}

void Reflector::run() {
  Backoff backoff(options_.backoff_initial, options_.backoff_max);
  bool need_list = true;
  while (!stopping()) {
    if (need_list) {
      setState(WatchState::kListing);
      absl::Status s = listAndDeliver();
      if (stopping()) break;
      if (!s.ok()) {
        noteError(s);
        const auto delay = backoff.next();
        spdlog::warn("kube: list kind={} error=\"{}\" retry_ms={}", kind_, std::string(s.message()),
                     delay.count());
        setState(WatchState::kBackoff);
        if (!sleepFor(delay)) break;
        continue;
      }
      need_list = false;
      backoff.reset();
    }

    WatchOptions wo;
    wo.namespace_name = options_.namespace_name;
    wo.label_selector = options_.label_selector;
    wo.field_selector = options_.field_selector;
    wo.resource_version = resourceVersion();
    wo.allow_bookmarks = true;
    wo.timeout_seconds = static_cast<int>(
        backoff.randomIn(options_.watch_timeout_min.count(), options_.watch_timeout_max.count()));
    setState(WatchState::kWatching);
    const auto started = std::chrono::steady_clock::now();
    bool got_event = false;
    absl::Status s = api_.watch(
        options_.resource, wo,
        [&](WatchEvent&& ev) {
          got_event = true;
          return handleEvent(std::move(ev));
        },
        &cancel_, options_.idle_timeout);
    if (stopping()) break;
    if (got_event) backoff.reset();
    if (isExpired(s) || isTooLargeResourceVersion(s)) {
      noteError(s);
      spdlog::info("kube: watch kind={} rv={} expired, relisting: {}", kind_, wo.resource_version,
                   std::string(s.message()));
      need_list = true;
      continue;
    }
    if (s.ok()) {
      // The server ended the watch at its timeout: resume at once. One that ends at once,
      // empty, again and again would spin: back off from it like from an error.
      if (got_event || std::chrono::steady_clock::now() - started > std::chrono::seconds(1)) {
        continue;
      }
      s = absl::UnavailableError("watch " + kind_ + ": the server ended it at once");
    }
    noteError(s);
    const auto delay = backoff.next();
    spdlog::warn("kube: watch kind={} rv={} error=\"{}\" retry_ms={}", kind_, resourceVersion(),
                 std::string(s.message()), delay.count());
    setState(WatchState::kBackoff);
    if (!sleepFor(delay)) break;
  }
  setState(WatchState::kStopped);
}

}  // namespace quasar::kube
