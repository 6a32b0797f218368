#include "daemon/cluster/store_lease_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/cluster/cluster_keys.h"

namespace quasar::daemon {

namespace fl = ipam::floating;

namespace {

std::string dump(const nlohmann::json& j) {
  // replace: a non-UTF-8 name must not make dump() throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<fl::LeaseState> parseState(const std::string& s) {
  for (auto st : {fl::LeaseState::kBound, fl::LeaseState::kUnbound, fl::LeaseState::kReserved,
                  fl::LeaseState::kReleased}) {
    if (fl::toString(st) == s) return st;
  }
  return absl::InvalidArgumentError(absl::StrCat("lease state \"", s, "\" is unknown"));
}

absl::StatusOr<fl::StoredLease> decode(const KeyValue& kv) {
  auto j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(kv.key, ": not JSON"));
  }
  auto lease = leaseFromJson(j);
  if (!lease.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(kv.key, ": ", lease.status().message()));
  }
  if (keys::fip(lease->ip) != kv.key) {
    return absl::InvalidArgumentError(
        absl::StrCat(kv.key, ": holds the lease of ", lease->ip.toString()));
  }
  return fl::StoredLease{std::move(*lease), kv.mod_revision};
}

absl::Status moved(const conf::IpAddress& ip, int64_t expected_revision) {
  return absl::AbortedError(
      absl::StrCat("floating IP ", ip.toString(), " changed since revision ", expected_revision));
}

// The datastore did not answer (etcd stopped, partitioned, overloaded): Unavailable, which the
// plugin reports as "try again later" (CNI code 11), saying so in words. Other failures pass.
absl::Status unanswered(const absl::Status& s, const char* doing) {
  if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return s;
  return absl::UnavailableError(absl::StrCat("the cluster datastore did not answer while ", doing,
                                             " (", s.message(), "); try again later"));
}

}  // namespace

nlohmann::json leaseToJson(const fl::Lease& l) {
  return {
      {"pool", l.pool},
      {"ip", l.ip.toString()},
      {"state", std::string(fl::toString(l.state))},
      {"policy", std::string(fl::toString(l.policy))},
      {"workload",
       {{"kind", std::string(fl::toString(l.workload.kind))},
        {"namespace", l.workload.namespace_},
        {"name", l.workload.name},
        {"uid", l.workload.uid}}},
      {"pod", {{"namespace", l.pod.namespace_}, {"name", l.pod.name}, {"uid", l.pod.uid}}},
      {"node", l.node},
      {"attachment", {{"containerId", l.attachment.container_id}, {"ifname", l.attachment.ifname}}},
      {"sinceUnixMs", l.since_unix_ms},
      {"releasedUnixMs", l.released_unix_ms},
      {"operatorReserved", l.operator_reserved},
  };
}

absl::StatusOr<fl::Lease> leaseFromJson(const nlohmann::json& j) {
  // nlohmann throws on a type mismatch (a number where a string belongs): one catch for all.
  try {
    if (!j.is_object()) return absl::InvalidArgumentError("a lease is a JSON object");
    fl::Lease l;
    l.pool = j.at("pool").get<std::string>();
    auto ip = conf::IpAddress::parse(j.at("ip").get<std::string>());
    if (!ip.ok()) return ip.status();
    l.ip = *ip;
    auto state = parseState(j.at("state").get<std::string>());
    if (!state.ok()) return state.status();
    l.state = *state;
    auto policy = fl::parseReleasePolicy(j.at("policy").get<std::string>());
    if (!policy.ok()) return policy.status();
    l.policy = *policy;
    const auto& w = j.at("workload");
    auto kind = fl::parseWorkloadKind(w.at("kind").get<std::string>());
    if (!kind.ok()) return kind.status();
    l.workload = {*kind, w.value("namespace", ""), w.value("name", ""), w.value("uid", "")};
    const auto& p = j.at("pod");
    l.pod = {p.value("namespace", ""), p.value("name", ""), p.value("uid", "")};
    l.node = j.value("node", "");
    const auto& a = j.at("attachment");
    l.attachment = {a.value("containerId", ""), a.value("ifname", "")};
    l.since_unix_ms = j.value("sinceUnixMs", int64_t{0});
    l.released_unix_ms = j.value("releasedUnixMs", int64_t{0});
    l.operator_reserved = j.value("operatorReserved", false);
    return l;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("lease: ", e.what()));
  }
}

absl::StatusOr<std::vector<fl::StoredLease>> StoreLeaseStore::list(const std::string& pool) {
  auto r = store_.list(keys::kFips);
  if (!r.ok()) return unanswered(r.status(), "reading the floating IPs");
  std::vector<fl::StoredLease> out;
  out.reserve(r->kvs.size());
  for (const auto& kv : r->kvs) {
    auto s = decode(kv);
    if (!s.ok()) {
      spdlog::warn("event=fip-lease-undecodable key={} error=\"{}\"", kv.key,
                   std::string(s.status().message()));
      continue;
    }
    if (pool.empty() || s->lease.pool == pool) out.push_back(std::move(*s));
  }
  // Keys sort as text ("10.0.0.10" before "10.0.0.9"); the contract is by address.
  std::sort(out.begin(), out.end(), [](const fl::StoredLease& a, const fl::StoredLease& b) {
    return a.lease.ip < b.lease.ip;
  });
  return out;
}

absl::StatusOr<std::optional<fl::StoredLease>> StoreLeaseStore::get(const conf::IpAddress& ip) {
  auto kv = store_.get(keys::fip(ip));
  if (!kv.ok()) return unanswered(kv.status(), "reading a floating IP");
  if (!kv->has_value()) return std::nullopt;
  auto s = decode(**kv);
  if (!s.ok()) return absl::DataLossError(s.status().message());
  return std::optional<fl::StoredLease>(std::move(*s));
}

absl::StatusOr<int64_t> StoreLeaseStore::create(const fl::Lease& lease) {
  const std::string key = keys::fip(lease.ip);
  auto r = store_.txn({Compare::absent(key)}, {Op::put(key, dump(leaseToJson(lease)))}, {});
  if (!r.ok()) return unanswered(r.status(), "claiming a floating IP");
  if (!r->succeeded) {
    return absl::AlreadyExistsError(absl::StrCat("floating IP ", lease.ip.toString(), " is held"));
  }
  return r->revision;
}

absl::StatusOr<int64_t> StoreLeaseStore::update(const fl::Lease& lease, int64_t expected_revision) {
  const std::string key = keys::fip(lease.ip);
  // An absent key's mod revision compares equal to 0: that would create, not update.
  if (expected_revision <= 0) return moved(lease.ip, expected_revision);
  auto r = store_.txn({Compare::modRevisionIs(key, expected_revision)},
                      {Op::put(key, dump(leaseToJson(lease)))}, {});
  if (!r.ok()) return unanswered(r.status(), "changing a floating IP");
  if (!r->succeeded) return moved(lease.ip, expected_revision);
  return r->revision;
}

absl::Status StoreLeaseStore::remove(const conf::IpAddress& ip, int64_t expected_revision) {
  const std::string key = keys::fip(ip);
  if (expected_revision <= 0) return moved(ip, expected_revision);
  auto r = store_.txn({Compare::modRevisionIs(key, expected_revision)}, {Op::del(key)}, {});
  if (!r.ok()) return unanswered(r.status(), "removing a floating IP");
  if (!r->succeeded) return moved(ip, expected_revision);
  return absl::OkStatus();
}

}  // namespace quasar::daemon
