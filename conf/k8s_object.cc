#include "conf/k8s_object.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "conf/ip.h"

namespace quasar::conf {
namespace {

using nlohmann::json;

// Lists of lists are flattened (as kubectl does), to this depth; deeper input is refused rather
// than recursed into.
constexpr int kMaxListDepth = 8;

struct Ctx {
  std::string ref;
  absl::Status err(const std::string& field, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(ref, ": ", field, ": ", what));
  }
};

// obj[key] when obj is a mapping that holds key, else null. The validator reads JSON only through
// this and the type checks: nlohmann's value(), get() and operator[] throw on a wrong type.
const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// obj[key] as a string: `fallback` when absent, an error naming `path` when not a string.
absl::StatusOr<std::string> optionalString(const Ctx& ctx, const json& obj, const char* key,
                                           const std::string& path, std::string fallback) {
  const json* v = member(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) return ctx.err(path, "must be a string");
  return v->get<std::string>();
}

bool isPortNumber(const json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= 65535;
}

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
  const json* found = member(meta, field);
  if (found == nullptr) return absl::OkStatus();
  const json& labels = *found;
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
  if (const json* labels = member(sel, "matchLabels")) {
    if (!labels->is_object()) return ctx.err(path + ".matchLabels", "must be a map");
    for (const auto& [k, v] : labels->items()) {
      if (!v.is_string()) return ctx.err(path + ".matchLabels." + k, "must be a string");
    }
  }
  if (const json* exprs = member(sel, "matchExpressions")) {
    if (!exprs->is_array()) return ctx.err(path + ".matchExpressions", "must be a list");
    for (size_t i = 0; i < exprs->size(); ++i) {
      const std::string p = absl::StrCat(path, ".matchExpressions[", i, "]");
      const json& e = (*exprs)[i];
      const json* key = member(e, "key");
      if (key == nullptr || !key->is_string()) return ctx.err(p + ".key", "is required");
      auto op = optionalString(ctx, e, "operator", p + ".operator", "");
      if (!op.ok()) return op.status();
      if (*op != "In" && *op != "NotIn" && *op != "Exists" && *op != "DoesNotExist") {
        return ctx.err(p + ".operator", "must be In, NotIn, Exists or DoesNotExist");
      }
      const json* values = member(e, "values");
      if (values != nullptr &&
          (!values->is_array() || !std::all_of(values->begin(), values->end(),
                                               [](const json& v) { return v.is_string(); }))) {
        return ctx.err(p + ".values", "must be a list of strings");
      }
      const bool has_values = values != nullptr && !values->empty();
      if ((*op == "In" || *op == "NotIn") != has_values) {
        return ctx.err(p + ".values", *op == "In" || *op == "NotIn" ? "must not be empty"
                                                                    : "must be empty for " + *op);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status checkPort(const Ctx& ctx, const json& port, const std::string& path) {
  if (!port.is_object()) return ctx.err(path, "must be an object");
  if (const json* p = member(port, "protocol")) {
    if (!p->is_string() || (*p != "TCP" && *p != "UDP" && *p != "SCTP")) {
      return ctx.err(path + ".protocol", "must be TCP, UDP or SCTP");
    }
  }
  return absl::OkStatus();
}

absl::Status checkPod(const Ctx& ctx, const json& spec) {
  if (!spec.is_object()) return ctx.err("spec", "is required");
  const json* cs = member(spec, "containers");
  if (cs == nullptr || !cs->is_array() || cs->empty()) {
    return ctx.err("spec.containers", "must list at least one container");
  }
  for (size_t i = 0; i < cs->size(); ++i) {
    const std::string p = absl::StrCat("spec.containers[", i, "]");
    const json& c = (*cs)[i];
    const json* name = member(c, "name");
    if (name == nullptr || !name->is_string() || !dns1123Label(name->get<std::string>(), 63)) {
      return ctx.err(p + ".name", "is required and must be a DNS-1123 label");
    }
    const json* ports = member(c, "ports");
    if (ports == nullptr) continue;
    if (!ports->is_array()) return ctx.err(p + ".ports", "must be a list");
    for (size_t k = 0; k < ports->size(); ++k) {
      const json& port = (*ports)[k];
      const std::string pp = absl::StrCat(p, ".ports[", k, "]");
      const json* number = member(port, "containerPort");
      if (number == nullptr || !isPortNumber(*number)) {
        return ctx.err(pp + ".containerPort", "must be in [1, 65535]");
      }
      if (auto s = checkPort(ctx, port, pp); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status checkPeers(const Ctx& ctx, const json& rule, const char* field,
                        const std::string& path) {
  const json* peers = member(rule, field);
  if (peers == nullptr) return absl::OkStatus();
  if (!peers->is_array()) return ctx.err(path + "." + field, "must be a list");
  for (size_t i = 0; i < peers->size(); ++i) {
    const std::string p = absl::StrCat(path, ".", field, "[", i, "]");
    const json& peer = (*peers)[i];
    if (!peer.is_object()) return ctx.err(p, "must be an object");
    const json* pods = member(peer, "podSelector");
    if (pods != nullptr) {
      if (auto s = checkSelector(ctx, *pods, p + ".podSelector"); !s.ok()) return s;
    }
    const json* namespaces = member(peer, "namespaceSelector");
    if (namespaces != nullptr) {
      if (auto s = checkSelector(ctx, *namespaces, p + ".namespaceSelector"); !s.ok()) return s;
    }
    if (const json* block = member(peer, "ipBlock")) {
      const json* cidr = member(*block, "cidr");
      if (cidr == nullptr || !cidr->is_string() ||
          !IpPrefix::parse(cidr->get<std::string>()).ok()) {
        return ctx.err(p + ".ipBlock.cidr", "must be a CIDR");
      }
      if (pods != nullptr || namespaces != nullptr) {
        return ctx.err(p, "ipBlock cannot be combined with a selector");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status checkPolicy(const Ctx& ctx, const json& spec) {
  if (!spec.is_object()) return ctx.err("spec", "is required");
  const json* selector = member(spec, "podSelector");
  if (selector == nullptr) return ctx.err("spec.podSelector", "is required");
  if (auto s = checkSelector(ctx, *selector, "spec.podSelector"); !s.ok()) return s;
  if (const json* types = member(spec, "policyTypes")) {
    if (!types->is_array()) return ctx.err("spec.policyTypes", "must be a list");
    for (const auto& v : *types) {
      if (v != "Ingress" && v != "Egress") {
        return ctx.err("spec.policyTypes", "entries must be Ingress or Egress");
      }
    }
  }
  for (const auto& [dir, peers] : {std::pair{"ingress", "from"}, std::pair{"egress", "to"}}) {
    const json* rules = member(spec, dir);
    if (rules == nullptr) continue;
    if (!rules->is_array()) return ctx.err(absl::StrCat("spec.", dir), "must be a list");
    for (size_t i = 0; i < rules->size(); ++i) {
      const std::string p = absl::StrCat("spec.", dir, "[", i, "]");
      const json& rule = (*rules)[i];
      if (!rule.is_object()) return ctx.err(p, "must be an object");
      if (auto s = checkPeers(ctx, rule, peers, p); !s.ok()) return s;
      const json* ports = member(rule, "ports");
      if (ports == nullptr) continue;
      if (!ports->is_array()) return ctx.err(p + ".ports", "must be a list");
      for (size_t k = 0; k < ports->size(); ++k) {
        const json& port = (*ports)[k];
        const std::string pp = absl::StrCat(p, ".ports[", k, "]");
        if (auto s = checkPort(ctx, port, pp); !s.ok()) return s;
        const json* number = member(port, "port");
        if (number != nullptr && !number->is_string() && !isPortNumber(*number)) {
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
  const json* kind_j = member(j, "kind");
  const json* meta_j = member(j, "metadata");
  const json* name_j = meta_j != nullptr ? member(*meta_j, "name") : nullptr;
  // Only for the error messages' reference: each is checked below.
  const std::string kind =
      kind_j != nullptr && kind_j->is_string() ? kind_j->get<std::string>() : "";
  const std::string name =
      name_j != nullptr && name_j->is_string() ? name_j->get<std::string>() : "";
  Ctx ctx{absl::StrCat(kind.empty() ? "object" : kind, " ", name.empty() ? "(unnamed)" : name)};
  if (kind_j == nullptr || (kind_j->is_string() && kind.empty())) {
    return ctx.err("kind", "is required");
  }
  if (canonicalKind(kind) != kind || kind.empty()) {
    return ctx.err("kind", "must be Node, Namespace, Pod or NetworkPolicy");
  }
  const std::string want_api = kind == "NetworkPolicy" ? "networking.k8s.io/v1" : "v1";
  const json* api = member(j, "apiVersion");
  if (api == nullptr || *api != want_api) return ctx.err("apiVersion", "must be " + want_api);
  if (meta_j == nullptr || !meta_j->is_object()) return ctx.err("metadata", "is required");
  const json& meta = *meta_j;
  const bool namespaced = kind == "Pod" || kind == "NetworkPolicy";
  const bool name_ok = kind == "Namespace" ? dns1123Label(name, 63) : dns1123Subdomain(name);
  if (!name_ok) return ctx.err("metadata.name", "is required and must be a DNS-1123 name");
  K8sObject o{kind, "", name, j};
  if (namespaced) {
    auto ns = optionalString(ctx, meta, "namespace", "metadata.namespace", "default");
    if (!ns.ok()) return ns.status();
    o.namespace_ = *ns;
    if (!dns1123Label(o.namespace_, 63)) {
      return ctx.err("metadata.namespace", "must be a DNS-1123 label");
    }
    o.body["metadata"]["namespace"] = o.namespace_;
    ctx.ref = o.ref();
  } else if (member(meta, "namespace") != nullptr) {
    return ctx.err("metadata.namespace", kind + " is not namespaced");
  }
  if (auto s = checkLabels(ctx, meta, "labels"); !s.ok()) return s;
  if (auto s = checkLabels(ctx, meta, "annotations"); !s.ok()) return s;
  const json* spec = member(j, "spec");
  const json null_spec;
  if (kind == "Pod") {
    if (auto s = checkPod(ctx, spec != nullptr ? *spec : null_spec); !s.ok()) return s;
  } else if (kind == "NetworkPolicy") {
    if (auto s = checkPolicy(ctx, spec != nullptr ? *spec : null_spec); !s.ok()) return s;
  }
  return o;
}

namespace {

absl::Status appendObjects(const json& j, int depth, std::vector<K8sObject>& out) {
  const json* items = nullptr;
  if (j.is_array()) {
    items = &j;
  } else if (const json* kind = member(j, "kind"); kind != nullptr && *kind == "List") {
    items = member(j, "items");
    if (items == nullptr || !items->is_array()) {
      return absl::InvalidArgumentError("List: items: must be a list");
    }
  }
  if (items == nullptr) {
    auto o = parseK8sObject(j);
    if (!o.ok()) return o.status();
    out.push_back(std::move(*o));
    return absl::OkStatus();
  }
  if (depth >= kMaxListDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("List: lists nest deeper than ", kMaxListDepth, " levels"));
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    if (!item.is_object() && !item.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("List: items[", i, "]: must be a mapping"));
    }
    if (auto s = appendObjects(item, depth + 1, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<K8sObject>> parseK8sObjects(const json& j) {
  std::vector<K8sObject> out;
  if (auto s = appendObjects(j, 0, out); !s.ok()) return s;
  return out;
}

}  // namespace quasar::conf
