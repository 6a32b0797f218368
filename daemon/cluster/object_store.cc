#include "daemon/cluster/object_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::daemon {

absl::StatusOr<std::vector<conf::K8sObject>> ObjectStore::parseAll(
    const std::vector<std::string>& texts) {
  std::vector<conf::K8sObject> out;
  for (const auto& text : texts) {
    auto j = conf::parseJson(text);
    if (!j.ok())
      return absl::InvalidArgumentError(absl::StrCat("an object: ", j.status().message()));
    auto objs = conf::parseK8sObjects(*j);
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
  std::vector<Op> gets, puts;
  for (const auto& o : *objs) {
    gets.push_back(Op::get(o.key()));
    puts.push_back(Op::put(o.key(), o.body.dump()));
  }
  // Read what is there (to say created/configured/unchanged), then write everything at once.
  auto before = store_.txn({}, gets, {});
  if (!before.ok()) return before.status();
  auto r = store_.txn({}, puts, {});
  if (!r.ok()) return r.status();
  std::vector<std::string> results;
  for (size_t i = 0; i < objs->size(); ++i) {
    const auto& existing = before->gets[i];
    const char* what = "created";
    if (!existing.empty()) {
      auto old = conf::parseJson(existing[0].value);
      what = old.ok() && *old == (*objs)[i].body ? "unchanged" : "configured";
    }
    results.push_back(absl::StrCat((*objs)[i].ref(), " ", what));
  }
  return results;
}

absl::StatusOr<std::vector<std::string>> ObjectStore::remove(
    const std::vector<std::string>& objects_json) {
  auto objs = parseAll(objects_json);
  if (!objs.ok()) return objs.status();
  std::vector<Op> gets, dels;
  for (const auto& o : *objs) {
    gets.push_back(Op::get(o.key()));
    dels.push_back(Op::del(o.key()));
  }
  // Gets and deletes in one transaction: what is reported deleted is what was deleted.
  std::vector<Op> ops = gets;
  ops.insert(ops.end(), dels.begin(), dels.end());
  auto r = store_.txn({}, ops, {});
  if (!r.ok()) return r.status();
  std::vector<std::string> results;
  for (size_t i = 0; i < objs->size(); ++i) {
    results.push_back(
        absl::StrCat((*objs)[i].ref(), r->gets[i].empty() ? " not found" : " deleted"));
  }
  return results;
}

absl::StatusOr<std::vector<std::string>> ObjectStore::get(const std::string& kind,
                                                          const std::string& namespace_,
                                                          const std::string& name) {
  const std::string canon = conf::canonicalKind(kind);
  if (canon.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind \"", kind, "\" (nodes, namespaces, pods, networkpolicies)"));
  }
  const bool namespaced = canon == "Pod" || canon == "NetworkPolicy";
  std::string prefix = absl::StrCat("k8s/", absl::AsciiStrToLower(canon), "/");
  if (!namespaced) {
    prefix += "_/";
  } else if (!namespace_.empty()) {
    prefix += namespace_ + "/";
  }
  auto l = store_.list(prefix);
  if (!l.ok()) return l.status();
  std::vector<std::string> out;
  for (const auto& kv : l->kvs) {
    if (!name.empty() && kv.key.substr(kv.key.rfind('/') + 1) != name) continue;
    out.push_back(kv.value);
  }
  if (!name.empty() && out.empty()) {
    return absl::NotFoundError(absl::StrCat(canon, " ", name, " not found"));
  }
  return out;
}

}  // namespace quasar::daemon
