#include "daemon/api/floating_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/cluster/objects/json_reader.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;
namespace fl = ipam::floating;
using objects::internal::isDns1123Label;
using objects::internal::isDns1123Subdomain;

int64_t systemNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<conf::IpAddress> parseIp(const std::string& text) {
  if (text.empty()) return absl::InvalidArgumentError("ip: required");
  auto ip = conf::IpAddress::parse(text);
  if (!ip.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ip \"", text, "\": not an IP address"));
  }
  return *ip;
}

}  // namespace

FloatingService::FloatingService(fl::FloatingAllocator& allocator, Clock now)
    : allocator_(allocator), now_(now ? std::move(now) : Clock(systemNow)) {}

absl::StatusOr<fl::WorkloadRef> FloatingService::parseWorkload(const std::string& text) {
  const std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload \"", text, "\": want Kind/namespace/name"));
  }
  auto kind = fl::parseWorkloadKind(parts[0]);
  if (!kind.ok()) return kind.status();
  if (!isDns1123Label(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat("workload \"", text, "\": namespace \"",
                                                   parts[1], "\" is not a DNS-1123 label"));
  }
  if (!isDns1123Label(parts[2])) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload \"", text, "\": name \"", parts[2], "\" is not a DNS-1123 label"));
  }
  fl::WorkloadRef w;
  w.kind = *kind;
  w.namespace_ = parts[1];
  w.name = parts[2];
  return w;
}

void FloatingService::toPb(const fl::Lease& l, pb::FloatingLease* out) {
  out->Clear();
  out->set_ip(l.ip.toString());
  out->set_pool(l.pool);
  out->set_state(std::string(fl::toString(l.state)));
  out->set_policy(std::string(fl::toString(l.policy)));
  if (!l.workload.empty()) {
    auto* w = out->mutable_workload();
    w->set_kind(std::string(fl::toString(l.workload.kind)));
    w->set_namespace_(l.workload.namespace_);
    w->set_name(l.workload.name);
    w->set_uid(l.workload.uid);
  }
  if (!l.pod.name.empty()) {
    auto* p = out->mutable_pod();
    p->set_namespace_(l.pod.namespace_);
    p->set_name(l.pod.name);
    p->set_uid(l.pod.uid);
  }
  out->set_node(l.node);
  if (!l.attachment.container_id.empty()) {
    out->mutable_attachment()->set_container_id(l.attachment.container_id);
    out->mutable_attachment()->set_ifname(l.attachment.ifname);
  }
  out->set_since_unix_ms(l.since_unix_ms);
  out->set_released_unix_ms(l.released_unix_ms);
  out->set_operator_reserved(l.operator_reserved);
  out->set_holder(fl::describeHolder(l));
}

absl::Status FloatingService::list(const pb::FloatingLeasesRequest& req,
                                   pb::FloatingLeasesReply* reply) {
  reply->Clear();
  std::optional<conf::IpAddress> only;
  if (!req.ip().empty()) {
    auto ip = parseIp(req.ip());
    if (!ip.ok()) return ip.status();
    only = *ip;
  }
  auto leases = allocator_.list();
  if (!leases.ok()) return leases.status();
  for (const auto& l : *leases) {
    if (!only || l.ip == *only) toPb(l, reply->add_leases());
  }
  if (only && reply->leases().empty()) {
    return absl::NotFoundError(absl::StrCat("floating address ", only->toString(), " is free"));
  }
  if (only) return absl::OkStatus();
  auto stats = allocator_.stats();
  if (!stats.ok()) return stats.status();
  for (const auto& s : *stats) {
    auto* p = reply->add_pools();
    p->set_name(s.name);
    p->set_capacity(s.capacity);
    p->set_in_use(s.in_use);
    p->set_bound(s.bound);
    p->set_unbound(s.unbound);
    p->set_reserved(s.reserved);
    p->set_cooling(s.cooling);
    p->set_max_allocated(s.max_allocated.value_or(-1));
  }
  return absl::OkStatus();
}

absl::Status FloatingService::reserve(const pb::ReserveFloatingIpRequest& req,
                                      pb::FloatingLease* reply) {
  auto ip = parseIp(req.ip());
  if (!ip.ok()) return ip.status();
  if (req.pool().empty()) return absl::InvalidArgumentError("pool: required");
  if (!isDns1123Subdomain(req.pool())) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool \"", req.pool(), "\": not a DNS-1123 subdomain"));
  }
  std::optional<fl::WorkloadRef> workload;
  if (!req.workload().empty()) {
    auto w = parseWorkload(req.workload());
    if (!w.ok()) return w.status();
    workload = *w;
  }
  auto lease = allocator_.reserve(*ip, req.pool(), workload, now_());
  if (!lease.ok()) return lease.status();
  spdlog::info("event=floating-reserved ip={} pool={} holder=\"{}\"", lease->ip.toString(),
               lease->pool, fl::describeHolder(*lease));
  toPb(*lease, reply);
  return absl::OkStatus();
}

absl::Status FloatingService::release(const pb::ReleaseFloatingIpRequest& req) {
  auto ip = parseIp(req.ip());
  if (!ip.ok()) return ip.status();
  if (auto s = allocator_.releaseByOperator(*ip, now_()); !s.ok()) return s;
  spdlog::info("event=floating-released-by-operator ip={}", ip->toString());
  return absl::OkStatus();
}

}  // namespace quasar::daemon
