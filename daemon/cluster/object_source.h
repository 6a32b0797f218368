#pragma once
// What feeds the object view (object_view.h): a source lists each kind, then watches it, and
// tells a sink. Two sources exist and nothing downstream can tell them apart:
//   - StoreObjectSource (store_object_source.h): the datastore, what `quasarctl apply` writes;
//   - the Kubernetes API source (daemon/kube/): a reflector per kind.
// The sink's calls mirror a reflector's: replace() is onSynced(kind, objects) after a list,
// event() is onEvent(kind, type, object) from the watch.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/cluster/objects/kind.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

enum class ObjectEventType { kAdded, kModified, kDeleted };
const char* toString(ObjectEventType type);  // "ADDED", "MODIFIED", "DELETED"

// Receives what a source observes. Calls for one kind come one at a time and in order (the
// source's list or watch of that kind); calls for different kinds may come concurrently from
// different threads. Each call returns quickly (the view parses and applies, nothing more).
class ObjectSink {
 public:
  virtual ~ObjectSink() = default;
  // Every object of `kind` as it is now: the first list, and each relist after a watch that
  // could not resume (410 Gone, a compacted revision). Objects are Kubernetes JSON as the API
  // server (or `quasarctl apply`) wrote them, with metadata.resourceVersion set. The first
  // replace() of a kind makes it synced.
  virtual void replace(objects::Kind kind, std::vector<nlohmann::json> objects) = 0;
  // One change seen by the watch after the last replace() of the kind. For kDeleted only
  // metadata.name (and metadata.namespace for namespaced kinds) are needed.
  virtual void event(objects::Kind kind, ObjectEventType type, nlohmann::json object) = 0;
  // The watch of `kind` failed (`why`); the source retries, and its next replace() or event()
  // says it is back. What the sink holds stays valid meanwhile, only stale.
  virtual void lost(objects::Kind kind, const absl::Status& why) {
    (void)kind;
    (void)why;
  }
};

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The kinds this source feeds; each gets a replace() once listed. Thread-safe, and fixed
  // from start() on (the view asks on every synced()).
  virtual std::vector<objects::Kind> kinds() const = 0;
  // Starts listing and watching in the background and returns at once; failures of the list or
  // watch are retried with backoff (and reported through lost()), never returned. An error only
  // when the source cannot run at all (e.g. a bad configuration). `sink` must outlive stop().
  virtual absl::Status start(ObjectSink& sink) = 0;
  // Stops; no call of the sink runs after it returns. Idempotent; also done by the destructor.
  virtual void stop() = 0;
  // One object as the source has it now, asked directly rather than through the sink: for a pod
  // the view does not have yet (the kubelet calls ADD right after scheduling). The JSON is what
  // replace() or event() would carry; nullopt when there is no such object. Waits at most
  // about `deadline`. Thread-safe; works also when not started.
  virtual absl::StatusOr<std::optional<nlohmann::json>> fetch(
      objects::Kind kind, const std::string& namespace_, const std::string& name,
      std::chrono::milliseconds deadline) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace quasar::daemon
