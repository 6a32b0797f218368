#include "daemon/cluster/objects/meta_parse.h"

#include "absl/strings/str_cat.h"

namespace quasar::objects::internal {
namespace {

void readLabels(Reader& r, const json& meta, const char* key, bool check_syntax) {
  const std::string path = field("metadata", key);
  const json* v = r.object(meta, key, "metadata");
  if (v == nullptr) return;
  for (const auto& [k, value] : v->items()) {
    if (!r.ok()) return;
    if (!value.is_string()) {
      r.fail(absl::StrCat(path, ".", k), "must be a string");
    } else if (check_syntax && !isLabelKey(k)) {
      r.fail(path, absl::StrCat("\"", k, "\" is not a valid label key"));
    } else if (check_syntax && !isLabelValue(value.get<std::string>())) {
      r.fail(absl::StrCat(path, ".", k),
             absl::StrCat("\"", value.get<std::string>(), "\" is not a valid label value"));
    }
  }
}

}  // namespace

std::string refOf(const json& j, std::string_view fallback_kind) {
  const json* meta = member(j, "metadata");
  const json* name = meta != nullptr ? member(*meta, "name") : nullptr;
  const json* json_kind = member(j, "kind");
  const std::string k = json_kind != nullptr && json_kind->is_string()
                            ? json_kind->get<std::string>()
                            : std::string(fallback_kind);
  const std::string n =
      name != nullptr && name->is_string() ? name->get<std::string>() : "(unnamed)";
  return absl::StrCat(k.empty() ? std::string(fallback_kind) : k, " ", n.empty() ? "(unnamed)" : n);
}

ObjectMeta readEnvelope(Reader& r, const json& j, Kind kind) {
  ObjectMeta m;
  if (!j.is_object()) {
    r.fail("", "an object must be a mapping");
    return m;
  }
  if (r.str(j, "kind", "", true) != jsonKindOf(kind) && r.ok()) {
    r.fail("kind", absl::StrCat("must be ", std::string(jsonKindOf(kind))));
  }
  if (r.str(j, "apiVersion", "", true) != apiVersionOf(kind) && r.ok()) {
    r.fail("apiVersion", absl::StrCat("must be ", std::string(apiVersionOf(kind))));
  }
  const json* meta = r.object(j, "metadata", "", true);
  if (meta == nullptr) return m;
  m.name = r.str(*meta, "name", "metadata");
  const bool name_ok =
      kind == Kind::kNamespace ? isDns1123Label(m.name) : isDns1123Subdomain(m.name);
  if (!name_ok) r.fail("metadata.name", "is required and must be a DNS-1123 name");
  if (isNamespaced(kind)) {
    const json* ns = member(*meta, "namespace");
    m.namespace_ =
        ns == nullptr || ns->is_null() ? "default" : r.str(*meta, "namespace", "metadata");
    if (r.ok() && !isDns1123Label(m.namespace_)) {
      r.fail("metadata.namespace", "must be a DNS-1123 label");
    }
  } else if (member(*meta, "namespace") != nullptr && r.str(*meta, "namespace", "metadata") != "") {
    r.fail("metadata.namespace", absl::StrCat(std::string(kindName(kind)), " is not namespaced"));
  }
  if (!r.ok()) return m;
  r.setRef(ObjectKey{kind, m.namespace_, m.name}.ref());
  m.uid = r.str(*meta, "uid", "metadata");
  m.resource_version = r.str(*meta, "resourceVersion", "metadata");
  m.creation_timestamp = r.str(*meta, "creationTimestamp", "metadata");
  readLabels(r, *meta, "labels", true);
  readLabels(r, *meta, "annotations", false);
  if (!r.ok()) return m;
  m.labels = r.stringMap(*meta, "labels", "metadata");
  m.annotations = r.stringMap(*meta, "annotations", "metadata");
  if (const json* owners = r.array(*meta, "ownerReferences", "metadata")) {
    for (size_t i = 0; i < owners->size() && r.ok(); ++i) {
      const std::string p = index("metadata.ownerReferences", i);
      const json& o = (*owners)[i];
      if (!o.is_object()) {
        r.fail(p, "must be a mapping");
        break;
      }
      OwnerReference ref;
      ref.api_version = r.str(o, "apiVersion", p, true);
      ref.kind = r.str(o, "kind", p, true);
      ref.name = r.str(o, "name", p, true);
      ref.uid = r.str(o, "uid", p, true);
      ref.controller = r.boolean(o, "controller", p);
      m.owner_references.push_back(std::move(ref));
    }
  }
  return m;
}

LabelSelector readSelector(Reader& r, const json& sel, const std::string& path) {
  LabelSelector out;
  if (!sel.is_object()) {
    r.fail(path, "must be a label selector");
    return out;
  }
  out.match_labels = r.stringMap(sel, "matchLabels", path);
  for (const auto& [k, v] : out.match_labels) {
    if (!r.ok()) break;
    if (!isLabelKey(k)) {
      r.fail(field(path, "matchLabels"), absl::StrCat("\"", k, "\" is not a valid label key"));
    } else if (!isLabelValue(v)) {
      r.fail(absl::StrCat(path, ".matchLabels.", k),
             absl::StrCat("\"", v, "\" is not a valid label value"));
    }
  }
  const json* exprs = r.array(sel, "matchExpressions", path);
  for (size_t i = 0; exprs != nullptr && i < exprs->size() && r.ok(); ++i) {
    const std::string p = index(field(path, "matchExpressions"), i);
    const json& e = (*exprs)[i];
    if (!e.is_object()) {
      r.fail(p, "must be a mapping");
      break;
    }
    LabelSelectorRequirement req;
    req.key = r.str(e, "key", p, true);
    if (r.ok() && !isLabelKey(req.key)) {
      r.fail(p + ".key", absl::StrCat("\"", req.key, "\" is not a valid label key"));
    }
    const std::string op = r.str(e, "operator", p, true);
    using Op = LabelSelectorRequirement::Operator;
    if (op == "In") {
      req.op = Op::kIn;
    } else if (op == "NotIn") {
      req.op = Op::kNotIn;
    } else if (op == "Exists") {
      req.op = Op::kExists;
    } else if (op == "DoesNotExist") {
      req.op = Op::kDoesNotExist;
    } else {
      r.fail(p + ".operator", "must be In, NotIn, Exists or DoesNotExist");
    }
    req.values = r.stringList(e, "values", p);
    if (!r.ok()) break;
    const bool wants_values = req.op == Op::kIn || req.op == Op::kNotIn;
    if (wants_values && req.values.empty()) {
      r.fail(p + ".values", "must not be empty");
    } else if (!wants_values && !req.values.empty()) {
      r.fail(p + ".values", "must be empty for " + op);
    }
    out.match_expressions.push_back(std::move(req));
  }
  return out;
}

LabelSelector readLabelMapSelector(Reader& r, const json& obj, const char* key,
                                   const std::string& path) {
  LabelSelector out;
  out.match_labels = r.stringMap(obj, key, path);
  for (const auto& [k, v] : out.match_labels) {
    if (!r.ok()) break;
    if (!isLabelKey(k)) {
      r.fail(field(path, key), absl::StrCat("\"", k, "\" is not a valid label key"));
    } else if (!isLabelValue(v)) {
      r.fail(absl::StrCat(field(path, key), ".", k),
             absl::StrCat("\"", v, "\" is not a valid label value"));
    }
  }
  return out;
}

Protocol readProtocol(Reader& r, const json& obj, const std::string& path) {
  const json* v = member(obj, "protocol");
  if (v == nullptr || v->is_null()) return Protocol::kTcp;
  if (*v == "TCP") return Protocol::kTcp;
  if (*v == "UDP") return Protocol::kUdp;
  if (*v == "SCTP") return Protocol::kSctp;
  r.fail(field(path, "protocol"), "must be TCP, UDP or SCTP");
  return Protocol::kTcp;
}

}  // namespace quasar::objects::internal
