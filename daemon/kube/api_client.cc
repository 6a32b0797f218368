#include "daemon/kube/api_client.h"

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"
#include "daemon/kube/api_status.h"

namespace quasar::kube {
namespace {

absl::StatusOr<nlohmann::json> parseBody(const std::string& body, const std::string& what) {
  auto parsed = conf::parseJson(body);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(what + ": " + std::string(parsed.status().message()));
  }
  if (!parsed->is_object()) return absl::InvalidArgumentError(what + ": not a JSON object");
  return parsed;
}

std::string metaString(const nlohmann::json& obj, const char* key) {
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return "";
  auto it = meta->find(key);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

// Never throws: invalid UTF-8 in a string is replaced rather than thrown about.
std::string dumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<ObjectList> ApiClient::list(const Resource& r, ListOptions options,
                                           const Canceller* cancel,
                                           std::chrono::milliseconds deadline) const {
  ObjectList out;
  const std::string api_version = r.apiVersion();
  options.continue_token.clear();
  while (true) {
    HttpClient::Request req;
    req.path = listPath(r, options);
    req.timeout = deadline;
    auto resp = http_->call(req, cancel);
    if (!resp.ok()) {
      if (isExpired(resp.status()) && !options.continue_token.empty()) {
        // The snapshot the pages came from is compacted: take the list in one answer instead.
        options.continue_token.clear();
        options.limit = 0;
        out.items.clear();
        continue;
      }
      return resp.status();
    }
    auto body = parseBody(resp->body, "GET " + req.path);
    if (!body.ok()) return body.status();
    auto items = body->find("items");
    if (items != body->end() && !items->is_null() && !items->is_array()) {
      return absl::InvalidArgumentError("GET " + req.path + ": items is not a list");
    }
    if (items != body->end() && items->is_array()) {
      out.items.reserve(out.items.size() + items->size());
      for (auto& item : *items) {
        if (!item.is_object()) {
          return absl::InvalidArgumentError("GET " + req.path + ": an item is not an object");
        }
        if (!item.contains("kind")) item["kind"] = r.kind;
        if (!item.contains("apiVersion")) item["apiVersion"] = api_version;
        out.items.push_back(std::move(item));
      }
    }
    const std::string token = metaString(*body, "continue");
    if (options.continue_token.empty() || out.resource_version.empty()) {
      out.resource_version = metaString(*body, "resourceVersion");
    }
    if (token.empty()) break;
    options.continue_token = token;
  }
  if (out.resource_version.empty()) {
    return absl::InvalidArgumentError("list " + collectionPath(r, options.namespace_name) +
                                      ": no metadata.resourceVersion");
  }
  return out;
}

absl::Status ApiClient::watch(const Resource& r, const WatchOptions& options,
                              const EventFn& on_event, const Canceller* cancel,
                              std::chrono::seconds idle_timeout) const {
  HttpClient::Request req;
  req.path = watchPath(r, options);
  // The server ends the stream at timeoutSeconds; the total deadline only catches a server
  // that does not (a watch without timeoutSeconds has none worth speaking of).
  req.timeout = options.timeout_seconds > 0 ? std::chrono::seconds(options.timeout_seconds + 60)
                                            : std::chrono::hours(24 * 365);
  req.idle_timeout = idle_timeout;
  const std::string what = "watch " + req.path;
  LineSplitter lines;
  absl::Status ended = absl::OkStatus();  // an ERROR event's status
  auto on_line = [&](absl::string_view line) -> absl::Status {
    auto ev = parseWatchEvent(line);
    if (!ev.ok()) {
      // A broken stream: the caller resumes from its last version.
      return absl::UnavailableError(what + ": " + std::string(ev.status().message()));
    }
    if (ev->type == EventType::kError) {
      ended = watchErrorStatus(ev->object, what);
      return ended;
    }
    return on_event(std::move(*ev));
  };
  absl::Status s = http_->stream(
      req, [&](absl::string_view chunk) { return lines.feed(chunk, on_line); }, cancel);
  if (!ended.ok()) return ended;
  if (s.ok() && lines.pending() > 0) {
    return absl::UnavailableError(what + ": the stream ended inside an event");
  }
  return s;
}

absl::StatusOr<nlohmann::json> ApiClient::objectCall(const std::string& method,
                                                     const std::string& path, std::string body,
                                                     std::string content_type,
                                                     std::chrono::milliseconds deadline) const {
  HttpClient::Request req;
  req.method = method;
  req.path = path;
  req.body = std::move(body);
  req.content_type = std::move(content_type);
  req.timeout = deadline;
  auto resp = http_->call(req);
  if (!resp.ok()) return resp.status();
  return parseBody(resp->body, method + " " + path);
}

absl::StatusOr<nlohmann::json> ApiClient::get(const Resource& r, const std::string& namespace_name,
                                              const std::string& name,
                                              std::chrono::milliseconds deadline) const {
  auto obj = objectCall("GET", objectPath(r, namespace_name, name), "", "", deadline);
  if (obj.ok()) {
    if (!obj->contains("kind")) (*obj)["kind"] = r.kind;
    if (!obj->contains("apiVersion")) (*obj)["apiVersion"] = r.apiVersion();
  }
  return obj;
}

absl::StatusOr<nlohmann::json> ApiClient::create(const Resource& r,
                                                 const nlohmann::json& object) const {
  return objectCall("POST", collectionPath(r, metaString(object, "namespace")), dumpJson(object),
                    "application/json", {});
}

absl::StatusOr<nlohmann::json> ApiClient::replace(const Resource& r,
                                                  const nlohmann::json& object) const {
  return objectCall("PUT",
                    objectPath(r, metaString(object, "namespace"), metaString(object, "name")),
                    dumpJson(object), "application/json", {});
}

absl::StatusOr<nlohmann::json> ApiClient::mergePatch(const Resource& r,
                                                     const std::string& namespace_name,
                                                     const std::string& name,
                                                     const nlohmann::json& patch,
                                                     std::chrono::milliseconds deadline) const {
  return objectCall("PATCH", objectPath(r, namespace_name, name), dumpJson(patch),
                    "application/merge-patch+json", deadline);
}

absl::Status ApiClient::remove(const Resource& r, const std::string& namespace_name,
                               const std::string& name) const {
  HttpClient::Request req;
  req.method = "DELETE";
  req.path = objectPath(r, namespace_name, name);
  return http_->call(req).status();
}

}  // namespace quasar::kube
