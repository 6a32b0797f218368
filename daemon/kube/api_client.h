#pragma once
// The Kubernetes API verbs quasard needs, on raw JSON objects (nlohmann::json): list (all pages),
// watch (a stream of events), get, create, replace, merge-patch, delete. Typed objects are the
// caller's business.
//
// Threading: thread-safe (HttpClient is); a watch runs on the caller's thread until it ends.
// Errors: api_status.h (410 -> OutOfRange: relist). Never throws.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/kube/http_client.h"
#include "daemon/kube/resource.h"
#include "daemon/kube/watch_event.h"
#include "nlohmann/json.hpp"

namespace quasar::kube {

struct ObjectList {
  // Every item carries kind and apiVersion (the server leaves them out of built-in lists).
  std::vector<nlohmann::json> items;
  // The list's metadata.resourceVersion: watch from here.
  std::string resource_version;
};

class ApiClient {
 public:
  explicit ApiClient(std::shared_ptr<HttpClient> http) : http_(std::move(http)) {}

  // Lists every object, page by page (options.limit per page, following `continue`). When a
  // continue token expires midway (410) the list is taken again in one answer. `deadline` is
  // per page (0: HttpClient's default).
  absl::StatusOr<ObjectList> list(const Resource& r, ListOptions options,
                                  const Canceller* cancel = nullptr,
                                  std::chrono::milliseconds deadline = {}) const;

  // Streams the watch's events to on_event until the server ends the stream (OK), on_event
  // returns an error (that error), an ERROR event arrives (its status: 410 -> OutOfRange),
  // `cancel` fires (Cancelled) or the connection fails. `idle_timeout`: no byte (events or
  // bookmarks) for this long means a dead connection (Unavailable/DeadlineExceeded).
  using EventFn = std::function<absl::Status(WatchEvent&& event)>;
  absl::Status watch(const Resource& r, const WatchOptions& options, const EventFn& on_event,
                     const Canceller* cancel = nullptr,
                     std::chrono::seconds idle_timeout = std::chrono::seconds(90)) const;

  // One object, with a deadline of its own (quasard's ADD path: short). NotFound when absent.
  absl::StatusOr<nlohmann::json> get(const Resource& r, const std::string& namespace_name,
                                     const std::string& name,
                                     std::chrono::milliseconds deadline = {}) const;
  // POST; the namespace comes from the object's metadata. Returns the stored object.
  absl::StatusOr<nlohmann::json> create(const Resource& r, const nlohmann::json& object) const;
  // PUT (Aborted on a stale metadata.resourceVersion). Returns the stored object.
  absl::StatusOr<nlohmann::json> replace(const Resource& r, const nlohmann::json& object) const;
  // PATCH application/merge-patch+json (RFC 7386): e.g. {"metadata":{"annotations":{"k":"v"}}}
  // sets one annotation and leaves the others; a null value removes a key.
  absl::StatusOr<nlohmann::json> mergePatch(const Resource& r, const std::string& namespace_name,
                                            const std::string& name, const nlohmann::json& patch,
                                            std::chrono::milliseconds deadline = {}) const;
  // DELETE. NotFound when absent.
  absl::Status remove(const Resource& r, const std::string& namespace_name,
                      const std::string& name) const;

  HttpClient& http() const { return *http_; }

 private:
  absl::StatusOr<nlohmann::json> objectCall(const std::string& method, const std::string& path,
                                            std::string body, std::string content_type,
                                            std::chrono::milliseconds deadline) const;

  std::shared_ptr<HttpClient> http_;
};

}  // namespace quasar::kube
