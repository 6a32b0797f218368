#pragma once
// Keeps a sink equal to the API server's objects of one resource (optionally narrowed by
// namespace and selectors), the way client-go's reflector does: list, then watch from the
// list's resourceVersion; BOOKMARKs advance that version; a dropped or failed watch resumes
// from the last version after an exponential backoff with jitter (reset once a watch delivers
// again); 410 Gone (an HTTP 410 or an ERROR event with a 410 Status) relists and hands the sink
// the difference as events, so no change is lost or applied twice.
//
// Sink protocol, per reflector (kind = ReflectorOptions::kind):
//   - the first list: onSynced(kind, all objects), no events;
//   - then watch events, normalised against what the sink was given: ADDED only for an object
//     the sink does not hold, MODIFIED and DELETED only for one it holds; an event that repeats
//     a version the sink has is dropped;
//   - every relist: DELETED for the objects gone (a tombstone: kind, apiVersion, metadata name,
//     namespace, uid, resourceVersion), ADDED for the new ones, MODIFIED for the changed ones,
//     then onSynced(kind, all objects). A sink that applied the events holds exactly these
//     objects already; one that treats onSynced as "replace everything" is right as well.
// While the server is unreachable the sink keeps what it has (synced() stays true).
//
// Threading: one owned thread per reflector, started by start(), joined by stop() or the
// destructor; stop() returns promptly (in-flight transfers are aborted at once). Sink and
// observer are called on that thread only, one call at a time per reflector; a sink shared by
// several reflectors must be thread-safe. The getters are thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/relist_diff.h"
#include "nlohmann/json.hpp"

namespace quasar::kube {

class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A complete list: the objects of `kind` that exist now (replaces what the sink had).
  virtual void onSynced(const std::string& kind, std::vector<nlohmann::json> objects) = 0;
  // One change: type is kAdded, kModified or kDeleted (never kBookmark or kError).
  virtual void onEvent(const std::string& kind, EventType type, const nlohmann::json& object) = 0;
};

enum class WatchState {
  kStarting,  // not yet listed
  kListing,   // (re)listing
  kWatching,  // a watch request is open
  kBackoff,   // waiting after an error before trying again
  kStopped,
};
const char* watchStateName(WatchState s);

// Hooks for metrics and logs; every method is optional. Called on the reflector's thread.
class ReflectorObserver {
 public:
  virtual ~ReflectorObserver() = default;
  virtual void onWatchState(const std::string& /*kind*/, WatchState /*state*/) {}
  // A list was delivered: the first one (relist false) or one after 410 Gone (relist true).
  virtual void onList(const std::string& /*kind*/, bool /*relist*/, size_t /*objects*/) {}
  // A failed list or watch (retried after a backoff), or an expired resourceVersion.
  virtual void onError(const std::string& /*kind*/, const absl::Status& /*error*/) {}
};

struct ReflectorOptions {
  Resource resource;
  // The name the sink and observer get; "" = resource.kind. Two reflectors of one resource
  // (this node's pods, all pods) need two names.
  std::string kind;
  std::string namespace_name;  // "" = all
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in this range (spreads
  // reconnects, as client-go does); it is then resumed at once.
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::seconds watch_timeout_max{600};
  // No byte for this long on a watch (the server's bookmarks keep it busy) = dead connection.
  std::chrono::seconds idle_timeout{90};
  std::chrono::milliseconds list_deadline{std::chrono::seconds(60)};  // per page
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(8)};
};

class Reflector {
 public:
  // `sink` and `observer` (may be null) must outlive the reflector.
  Reflector(ApiClient api, ReflectorOptions options, ReflectorSink& sink,
            ReflectorObserver* observer = nullptr);
  ~Reflector();  // stop()
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts the thread (once; later calls do nothing).
  void start();
  // Aborts the open request, joins the thread. Idempotent. No sink call after it returns.
  void stop();

  const std::string& kind() const { return kind_; }
  // True once the first list reached the sink (stays true while the server is unreachable).
  bool synced() const;
  // Blocks until synced() or `timeout`; returns synced().
  bool waitSynced(std::chrono::milliseconds timeout) const;
  // The version the next watch starts from ("" before the first list).
  std::string resourceVersion() const;
  WatchState state() const { return state_.load(); }
  uint64_t relists() const { return relists_.load(); }  // lists after 410 Gone
  uint64_t errors() const { return errors_.load(); }    // failed lists and watches

 private:
  void run();
  absl::Status listAndDeliver();
  absl::Status handleEvent(WatchEvent&& ev);
  void deliver(EventType type, const nlohmann::json& object);
  void setState(WatchState s);
  void noteError(const absl::Status& s);
  // Sleeps `d` unless stop() comes first; false when stopping.
  bool sleepFor(std::chrono::milliseconds d);
  bool stopping() const;
  void setResourceVersion(std::string rv);

  ApiClient api_;
  const ReflectorOptions options_;
  const std::string kind_;
  const std::string api_version_;
  ReflectorSink& sink_;
  ReflectorObserver* observer_;

  Canceller cancel_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  bool synced_ = false;
  std::string resource_version_;

  // Reflector thread only.
  KnownObjects known_;
  bool listed_once_ = false;

  std::atomic<WatchState> state_{WatchState::kStarting};
  std::atomic<uint64_t> relists_{0};
  std::atomic<uint64_t> errors_{0};
  std::thread thread_;
  std::once_flag started_;
};

}  // namespace quasar::kube
