#include "conf/k8s_object.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "conf/ip.h"

namespace quasar::conf {
namespace {

using nlohmann::json;

struct Ctx {
  std::string ref;
  absl::Status err(const std::string& field, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(ref, ": ", field, ": ", what));
  }
};

bool dns1123Label(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool dns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

// Label keys: [prefix/]name, name <= 63 of alnum - _ . ; values the same or empty.
bool labelName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

absl::Status checkLabels(const Ctx& ctx, const json& meta, const char* field) {
  if (!meta.contains(field)) return absl::OkStatus();
  const json& labels = meta[field];
  const std::string path = absl::StrCat("metadata.", field);
  if (!labels.is_object()) return ctx.err(path, "must be a map of strings");
  for (const auto& [k, v] : labels.items()) {
    if (!v.is_string()) return ctx.err(path + "." + k, "must be a string");
    if (std::string(field) == "annotations") continue;
    const auto slash = k.find('/');
    const std::string name = slash == std::string::npos ? k : k.substr(slash + 1);
    if ((slash != std::string::npos && !dns1123Subdomain(k.substr(0, slash))) || !labelName(name)) {
      return ctx.err(path, "\"" + k + "\" is not a valid label key");
    }
    const auto value = v.get<std::string>();
    if (!value.empty() && !labelName(value)) {
      return ctx.err(path + "." + k, "\"" + value + "\" is not a valid label value");
    }
  }
  return absl::OkStatus();
}

absl::Status checkSelector(const Ctx& ctx, const json& sel, const std::string& path) {
  if (!sel.is_object()) return ctx.err(path, "must be a label selector");
  if (sel.contains("matchLabels")) {
    if (!sel["matchLabels"].is_object()) return ctx.err(path + ".matchLabels", "must be a map");
    for (const auto& [k, v] : sel["matchLabels"].items()) {
      if (!v.is_string()) return ctx.err(path + ".matchLabels." + k, "must be a string");
    }
  }
  if (sel.contains("matchExpressions")) {
    const json& exprs = sel["matchExpressions"];
    if (!exprs.is_array()) return ctx.err(path + ".matchExpressions", "must be a list");
    for (size_t i = 0; i < exprs.size(); ++i) {
      const std::string p = absl::StrCat(path, ".matchExpressions[", i, "]");
      const json& e = exprs[i];
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
        return ctx.err(p + ".key", "is required");
      }
      const std::string op = e.value("operator", "");
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
        return ctx.err(p + ".operator", "must be In, NotIn, Exists or DoesNotExist");
      }
      const bool has_values =
          e.contains("values") && e["values"].is_array() && !e["values"].empty();
      if ((op == "In" || op == "NotIn") != has_values) {
        return ctx.err(p + ".values", op == "In" || op == "NotIn" ? "must not be empty"
                                                                  : "must be empty for " + op);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status checkPort(const Ctx& ctx, const json& port, const std::string& path) {
  if (port.contains("protocol")) {
    const json& p = port["protocol"];
    if (!p.is_string() || (p != "TCP" && p != "UDP" && p != "SCTP")) {
      return ctx.err(path + ".protocol", "must be TCP, UDP or SCTP");
    }
  }
  return absl::OkStatus();
}

absl::Status checkPod(const Ctx& ctx, const json& spec) {
  if (!spec.is_object()) return ctx.err("spec", "is required");
  if (!spec.contains("containers") || !spec["containers"].is_array() ||
      spec["containers"].empty()) {
    return ctx.err("spec.containers", "must list at least one container");
  }
  const json& cs = spec["containers"];
  for (size_t i = 0; i < cs.size(); ++i) {
    const std::string p = absl::StrCat("spec.containers[", i, "]");
    if (!cs[i].is_object() || !cs[i].contains("name") || !cs[i]["name"].is_string() ||
        !dns1123Label(cs[i]["name"], 63)) {
      return ctx.err(p + ".name", "is required and must be a DNS-1123 label");
    }
    if (!cs[i].contains("ports")) continue;
    if (!cs[i]["ports"].is_array()) return ctx.err(p + ".ports", "must be a list");
    for (size_t k = 0; k < cs[i]["ports"].size(); ++k) {
      const json& port = cs[i]["ports"][k];
      const std::string pp = absl::StrCat(p, ".ports[", k, "]");
      if (!port.is_object() || !port.contains("containerPort") ||
          !port["containerPort"].is_number_integer() || port["containerPort"].get<int64_t>() < 1 ||
          port["containerPort"].get<int64_t>() > 65535) {
        return ctx.err(pp + ".containerPort", "must be in [1, 65535]");
      }
      if (auto s = checkPort(ctx, port, pp); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status checkPeers(const Ctx& ctx, const json& rule, const char* field,
                        const std::string& path) {
  if (!rule.contains(field)) return absl::OkStatus();
  const json& peers = rule[field];
  if (!peers.is_array()) return ctx.err(path + "." + field, "must be a list");
  for (size_t i = 0; i < peers.size(); ++i) {
    const std::string p = absl::StrCat(path, ".", field, "[", i, "]");
    const json& peer = peers[i];
    if (!peer.is_object()) return ctx.err(p, "must be an object");
    if (peer.contains("podSelector")) {
      if (auto s = checkSelector(ctx, peer["podSelector"], p + ".podSelector"); !s.ok()) return s;
    }
    if (peer.contains("namespaceSelector")) {
      if (auto s = checkSelector(ctx, peer["namespaceSelector"], p + ".namespaceSelector");
          !s.ok()) {
        return s;
      }
    }
    if (peer.contains("ipBlock")) {
      const json& b = peer["ipBlock"];
      if (!b.is_object() || !b.contains("cidr") || !b["cidr"].is_string() ||
          !IpPrefix::parse(b["cidr"].get<std::string>()).ok()) {
        return ctx.err(p + ".ipBlock.cidr", "must be a CIDR");
      }
      if (peer.contains("podSelector") || peer.contains("namespaceSelector")) {
        return ctx.err(p, "ipBlock cannot be combined with a selector");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status checkPolicy(const Ctx& ctx, const json& spec) {
  if (!spec.is_object()) return ctx.err("spec", "is required");
  if (!spec.contains("podSelector")) return ctx.err("spec.podSelector", "is required");
  if (auto s = checkSelector(ctx, spec["podSelector"], "spec.podSelector"); !s.ok()) return s;
  if (spec.contains("policyTypes")) {
    const json& t = spec["policyTypes"];
    if (!t.is_array()) return ctx.err("spec.policyTypes", "must be a list");
    for (const auto& v : t) {
      if (v != "Ingress" && v != "Egress") {
        return ctx.err("spec.policyTypes", "entries must be Ingress or Egress");
      }
    }
  }
  for (const auto& [dir, peers] : {std::pair{"ingress", "from"}, std::pair{"egress", "to"}}) {
    if (!spec.contains(dir)) continue;
    if (!spec[dir].is_array()) return ctx.err(absl::StrCat("spec.", dir), "must be a list");
    for (size_t i = 0; i < spec[dir].size(); ++i) {
      const std::string p = absl::StrCat("spec.", dir, "[", i, "]");
      const json& rule = spec[dir][i];
      if (!rule.is_object()) return ctx.err(p, "must be an object");
      if (auto s = checkPeers(ctx, rule, peers, p); !s.ok()) return s;
      if (!rule.contains("ports")) continue;
      for (size_t k = 0; k < rule["ports"].size(); ++k) {
        const json& port = rule["ports"][k];
        const std::string pp = absl::StrCat(p, ".ports[", k, "]");
        if (auto s = checkPort(ctx, port, pp); !s.ok()) return s;
        if (port.contains("port") && !port["port"].is_string() &&
            (!port["port"].is_number_integer() || port["port"].get<int64_t>() < 1 ||
             port["port"].get<int64_t>() > 65535)) {
          return ctx.err(pp + ".port", "must be a port number in [1, 65535] or a port name");
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string K8sObject::key() const {
  return absl::StrCat("k8s/", absl::AsciiStrToLower(kind), "/",
                      namespace_.empty() ? "_" : namespace_, "/", name);
}

std::string K8sObject::ref() const {
  return namespace_.empty() ? absl::StrCat(kind, " ", name)
                            : absl::StrCat(kind, " ", namespace_, "/", name);
}

std::string canonicalKind(const std::string& typed) {
  const std::string t = absl::AsciiStrToLower(typed);
  if (t == "node" || t == "nodes" || t == "no") return "Node";
  if (t == "namespace" || t == "namespaces" || t == "ns") return "Namespace";
  if (t == "pod" || t == "pods" || t == "po") return "Pod";
  if (t == "networkpolicy" || t == "networkpolicies" || t == "netpol") return "NetworkPolicy";
  return "";
}

absl::StatusOr<K8sObject> parseK8sObject(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("an object must be a mapping");
  const std::string kind = j.value("kind", "");
  const std::string api = j.value("apiVersion", "");
  const std::string name =
      j.contains("metadata") && j["metadata"].is_object() ? j["metadata"].value("name", "") : "";
  Ctx ctx{absl::StrCat(kind.empty() ? "object" : kind, " ", name.empty() ? "(unnamed)" : name)};
  if (kind.empty()) return ctx.err("kind", "is required");
  if (canonicalKind(kind) != kind) {
    return ctx.err("kind", "must be Node, Namespace, Pod or NetworkPolicy");
  }
  const std::string want_api = kind == "NetworkPolicy" ? "networking.k8s.io/v1" : "v1";
  if (api != want_api) return ctx.err("apiVersion", "must be " + want_api);
  if (!j.contains("metadata") || !j["metadata"].is_object()) {
    return ctx.err("metadata", "is required");
  }
  const json& meta = j["metadata"];
  const bool namespaced = kind == "Pod" || kind == "NetworkPolicy";
  const bool name_ok = kind == "Namespace" ? dns1123Label(name, 63) : dns1123Subdomain(name);
  if (!name_ok) return ctx.err("metadata.name", "is required and must be a DNS-1123 name");
  K8sObject o{kind, "", name, j};
  if (namespaced) {
    o.namespace_ = meta.value("namespace", "default");
    if (!dns1123Label(o.namespace_, 63)) {
      return ctx.err("metadata.namespace", "must be a DNS-1123 label");
    }
    o.body["metadata"]["namespace"] = o.namespace_;
    ctx.ref = o.ref();
  } else if (meta.contains("namespace")) {
    return ctx.err("metadata.namespace", kind + " is not namespaced");
  }
  if (auto s = checkLabels(ctx, meta, "labels"); !s.ok()) return s;
  if (auto s = checkLabels(ctx, meta, "annotations"); !s.ok()) return s;
  if (kind == "Pod") {
    if (auto s = checkPod(ctx, j.value("spec", json())); !s.ok()) return s;
  } else if (kind == "NetworkPolicy") {
    if (auto s = checkPolicy(ctx, j.value("spec", json())); !s.ok()) return s;
  }
  return o;
}

absl::StatusOr<std::vector<K8sObject>> parseK8sObjects(const json& j) {
  std::vector<K8sObject> out;
  const json* items = nullptr;
  if (j.is_array()) {
    items = &j;
  } else if (j.is_object() && j.value("kind", "") == "List") {
    if (!j.contains("items") || !j["items"].is_array()) {
      return absl::InvalidArgumentError("List: items: must be a list");
    }
    items = &j["items"];
  }
  if (!items) {
    auto o = parseK8sObject(j);
    if (!o.ok()) return o.status();
    out.push_back(std::move(*o));
    return out;
  }
  for (const auto& item : *items) {
    auto more = parseK8sObjects(item);
    if (!more.ok()) return more.status();
    for (auto& o : *more) out.push_back(std::move(o));
  }
  return out;
}

}  // namespace quasar::conf
