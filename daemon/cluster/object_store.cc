#include "daemon/cluster/object_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::daemon {

absl::StatusOr<std::vector<objects::ManifestObject>> ObjectStore::parseAll(
    const std::vector<std::string>& texts) {
  std::vector<objects::ManifestObject> out;
  for (const auto& text : texts) {
    auto j = conf::parseJson(text);
    if (!j.ok())
      return absl::InvalidArgumentError(absl::StrCat("an object: ", j.status().message()));
    auto objs = objects::parseManifest(*j);
    if (!objs.ok()) return objs.status();
    for (auto& o : *objs) out.push_back(std::move(o));
  }
  if (out.empty()) return absl::InvalidArgumentError("no objects given");
  return out;
}

absl::StatusOr<std::vector<std::string>> ObjectStore::apply(
    const std::vector<std::string>& objects_json) {
  auto objs = parseAll(objects_json);
  if (!objs.ok()) return objs.status();
  std::vector<std::string> results;
  for (size_t first = 0; first < objs->size(); first += kMaxTxnOps) {
    const size_t last = std::min(objs->size(), first + kMaxTxnOps);
    std::vector<Op> gets;
    for (size_t i = first; i < last; ++i) gets.push_back(Op::get((*objs)[i].storeKey()));
    // Read what is there (to say created/configured/unchanged), then write what changed at
    // once: an unchanged object keeps its revision, so watchers (the object view) see no change.
    auto before = store_.txn({}, gets, {});
    if (!before.ok()) return before.status();
    std::vector<Op> puts;
    for (size_t i = first; i < last; ++i) {
      const auto& o = (*objs)[i];
      const auto& existing = before->gets[i - first];
      const char* what = "created";
      if (!existing.empty()) {
        auto old = conf::parseJson(existing[0].value);
        what = old.ok() && *old == o.body ? "unchanged" : "configured";
      }
      if (what != std::string("unchanged")) puts.push_back(Op::put(o.storeKey(), o.body.dump()));
      results.push_back(absl::StrCat(o.ref(), " ", what));
    }
    if (!puts.empty()) {
      auto r = store_.txn({}, puts, {});
      if (!r.ok()) return r.status();
    }
  }
  return results;
}

absl::StatusOr<std::vector<std::string>> ObjectStore::remove(
    const std::vector<std::string>& objects_json) {
  auto objs = parseAll(objects_json);
  if (!objs.ok()) return objs.status();
  std::vector<std::string> results;
  for (size_t first = 0; first < objs->size(); first += kMaxTxnOps / 2) {
    const size_t last = std::min(objs->size(), first + kMaxTxnOps / 2);
    // Gets and deletes in one transaction: what is reported deleted is what was deleted.
    std::vector<Op> ops;
    for (size_t i = first; i < last; ++i) ops.push_back(Op::get((*objs)[i].storeKey()));
    for (size_t i = first; i < last; ++i) ops.push_back(Op::del((*objs)[i].storeKey()));
    auto r = store_.txn({}, ops, {});
    if (!r.ok()) return r.status();
    for (size_t i = first; i < last; ++i) {
      results.push_back(absl::StrCat((*objs)[i].ref(),
                                     r->gets[i - first].empty() ? " not found" : " deleted"));
    }
  }
  return results;
}

absl::StatusOr<std::vector<std::string>> ObjectStore::get(const std::string& kind,
                                                          const std::string& namespace_,
                                                          const std::string& name) {
  const auto canon = objects::parseKindArg(kind);
  if (!canon) {
    return absl::InvalidArgumentError(absl::StrCat("unknown kind \"", kind,
                                                   "\" (nodes, namespaces, pods, networkpolicies, "
                                                   "networkpolicies.quasar.io, floatingippools)"));
  }
  const std::string prefix = objects::storePrefix(*canon, namespace_);
  auto l = store_.list(prefix);
  if (!l.ok()) return l.status();
  std::vector<std::string> out;
  for (const auto& kv : l->kvs) {
    if (!name.empty() && kv.key.substr(kv.key.rfind('/') + 1) != name) continue;
    out.push_back(kv.value);
  }
  if (!name.empty() && out.empty()) {
    return absl::NotFoundError(
        absl::StrCat(std::string(objects::kindName(*canon)), " ", name, " not found"));
  }
  return out;
}

}  // namespace quasar::daemon
