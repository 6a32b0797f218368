#include "cni/env.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cni/errors.h"
#include "conf/json_parse.h"

namespace quasar::cni {
namespace {

absl::Status envError(absl::string_view what) {
  return withCode(absl::InvalidArgumentError(std::string(what)), kInvalidEnvironment);
}

// The spec: container IDs are non-empty and of [A-Za-z0-9_.-], starting alphanumeric.
bool validContainerId(const std::string& id) {
  if (id.empty() || !absl::ascii_isalnum(id[0])) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// Linux interface names: 1-15 bytes, no '/', ':' or white space, not "." or "..".
bool validIfname(const std::string& n) {
  if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
  for (char c : n) {
    if (c == '/' || c == ':' || absl::ascii_isspace(c)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<CniEnv> readEnv(const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* k) {
    const char* v = getenv(k);
    return std::string(v ? v : "");
  };
  // First: every value reaches a log line, an error message (JSON) or quasard (protobuf), and
  // all three need UTF-8. The value itself is not quoted: it would not render.
  for (const char* k :
       {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH", "CNI_ARGS"}) {
    if (!conf::isValidUtf8(get(k))) return envError(absl::StrCat(k, " is not valid UTF-8"));
  }
  CniEnv e;
  e.command = get("CNI_COMMAND");
  e.container_id = get("CNI_CONTAINERID");
  e.netns = get("CNI_NETNS");
  e.ifname = get("CNI_IFNAME");
  e.path = get("CNI_PATH");
  const auto& c = e.command;
  if (c.empty()) return envError("CNI_COMMAND is not set");
  if (c != "ADD" && c != "DEL" && c != "CHECK" && c != "GC" && c != "STATUS" && c != "VERSION") {
    return envError(absl::StrCat("CNI_COMMAND \"", c, "\" is not one of ADD, DEL, CHECK, GC, ",
                                 "STATUS, VERSION"));
  }
  const bool per_container = c == "ADD" || c == "DEL" || c == "CHECK";
  if (per_container) {
    if (e.container_id.empty()) return envError("CNI_CONTAINERID is not set");
    if (!validContainerId(e.container_id)) {
      return envError(absl::StrCat("CNI_CONTAINERID \"", e.container_id,
                                   "\" must be of letters, digits, '_', '.' and '-'"));
    }
    if (e.ifname.empty()) return envError("CNI_IFNAME is not set");
    if (!validIfname(e.ifname)) {
      return envError(absl::StrCat("CNI_IFNAME \"", e.ifname, "\" is not a valid interface name"));
    }
    // DEL must work when the runtime has already lost the namespace.
    if (c != "DEL" && e.netns.empty()) return envError("CNI_NETNS is not set");
  }

  bool ignore_unknown = false;
  std::vector<std::pair<std::string, std::string>> unknown;
  for (absl::string_view kv : absl::StrSplit(get("CNI_ARGS"), ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    const std::string& k = p.first;
    if (k == "K8S_POD_NAMESPACE") {
      e.pod_namespace = p.second;
    } else if (k == "K8S_POD_NAME") {
      e.pod_name = p.second;
    } else if (k == "K8S_POD_UID") {
      e.pod_uid = p.second;
    } else if (k == "K8S_POD_INFRA_CONTAINER_ID") {
      // Same as CNI_CONTAINERID for the sandbox; nothing to add.
    } else if (k == "IgnoreUnknown") {
      const std::string v = absl::AsciiStrToLower(p.second);
      ignore_unknown = v == "1" || v == "true";
    } else {
      unknown.push_back(p);
    }
  }
  if (!unknown.empty() && !ignore_unknown) {
    return envError(absl::StrCat("CNI_ARGS key \"", unknown[0].first,
                                 "\" is not known to quasar (set IgnoreUnknown=1 to ignore it)"));
  }
  return e;
}

}  // namespace quasar::cni
