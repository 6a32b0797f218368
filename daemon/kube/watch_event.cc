#include "daemon/kube/watch_event.h"

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"
#include "daemon/kube/api_status.h"

namespace quasar::kube {

const char* eventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
    case EventType::kError:
      return "ERROR";
  }
  return "?";
}

namespace {

absl::string_view trimLine(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

absl::Status LineSplitter::feed(absl::string_view chunk, const LineFn& on_line) {
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    if (nl == absl::string_view::npos) {
      if (partial_.size() + chunk.size() > max_line_) {
        partial_.clear();
        return absl::ResourceExhaustedError(
            absl::StrCat("watch: an event longer than ", max_line_, " bytes"));
      }
      partial_.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    }
    absl::string_view line;
    if (partial_.empty()) {
      line = chunk.substr(0, nl);  // the common case: no copy
    } else {
      if (partial_.size() + nl > max_line_) {
        partial_.clear();
        return absl::ResourceExhaustedError(
            absl::StrCat("watch: an event longer than ", max_line_, " bytes"));
      }
      partial_.append(chunk.data(), nl);
      line = partial_;
    }
    chunk.remove_prefix(nl + 1);
    line = trimLine(line);
    absl::Status s = line.empty() ? absl::OkStatus() : on_line(line);
    partial_.clear();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<WatchEvent> parseWatchEvent(absl::string_view line) {
  auto parsed = conf::parseJson(line);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("watch event: " + std::string(parsed.status().message()));
  }
  if (!parsed->is_object()) return absl::InvalidArgumentError("watch event: not an object");
  auto type = parsed->find("type");
  auto object = parsed->find("object");
  if (type == parsed->end() || !type->is_string()) {
    return absl::InvalidArgumentError("watch event: no type");
  }
  if (object == parsed->end() || !object->is_object()) {
    return absl::InvalidArgumentError("watch event: no object");
  }
  WatchEvent ev;
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "ADDED") {
    ev.type = EventType::kAdded;
  } else if (t == "MODIFIED") {
    ev.type = EventType::kModified;
  } else if (t == "DELETED") {
    ev.type = EventType::kDeleted;
  } else if (t == "BOOKMARK") {
    ev.type = EventType::kBookmark;
  } else if (t == "ERROR") {
    ev.type = EventType::kError;
  } else {
    return absl::InvalidArgumentError("watch event: unknown type \"" + conf::toValidUtf8(t) + "\"");
  }
  ev.object = std::move(*object);
  return ev;
}

absl::Status watchErrorStatus(const nlohmann::json& status, const std::string& what) {
  long code = 500;
  std::string reason;
  std::string message;
  if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
    code = it->get<long>();
  }
  if (auto it = status.find("reason"); it != status.end() && it->is_string()) reason = *it;
  if (auto it = status.find("message"); it != status.end() && it->is_string()) message = *it;
  return statusFromApi(code, reason, message, what + ": ERROR event");
}

std::string resourceVersionOf(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  if (rv == meta->end() || !rv->is_string()) return "";
  return *rv;
}

std::string objectKey(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  std::string ns;
  std::string name;
  if (auto it = meta->find("namespace"); it != meta->end() && it->is_string()) ns = *it;
  if (auto it = meta->find("name"); it != meta->end() && it->is_string()) name = *it;
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace quasar::kube
