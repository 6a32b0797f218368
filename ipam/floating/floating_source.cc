#include "ipam/floating/floating_source.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace quasar::ipam::floating {

FloatingSource::FloatingSource(FloatingAllocator& allocator, NodeFactsFn node)
    : allocator_(allocator), node_(std::move(node)) {}

absl::StatusOr<std::vector<conf::IpAddress>> FloatingSource::take(const AllocateRequest& request,
                                                                  int64_t now_ms) {
  const auto* fr = dynamic_cast<const FloatingRequest*>(request.source_request.get());
  if (!fr) return absl::InternalError("a floating-IP request without its pools and policy");
  if (request.requested_ips.size() > 1) {
    return absl::InvalidArgumentError("a floating-IP pod takes one requested address at most");
  }
  ClaimRequest c;
  c.attachment = request.attachment;
  c.pod = {request.pod.namespace_, request.pod.name, request.pod.uid};
  c.workload = fr->workload;
  c.policy = fr->policy;
  c.pools = fr->pools;
  if (!request.requested_ips.empty()) c.ip = request.requested_ips.front();
  c.node = node_();
  c.now_unix_ms = now_ms;
  auto r = allocator_.claim(c);
  if (!r.ok()) return r.status();  // with its FailureReason (floating_allocator.h)
  return std::vector<conf::IpAddress>{r->lease.ip};
}

void FloatingSource::untake(const Allocation& allocation) {
  // The node never recorded it; reconcile() retries when the store is unreachable now.
  if (auto s = allocator_.abandon(allocation.attachment, allocation.created_unix_ms); !s.ok()) {
    spdlog::warn("event=floating-untake-failed container={} ifname={} error=\"{}\"",
                 allocation.attachment.container_id, allocation.attachment.ifname,
                 std::string(s.message()));
  }
}

void FloatingSource::released(const Allocation& allocation, bool, int64_t now_ms) {
  if (auto s = allocator_.release(allocation.attachment, now_ms); !s.ok()) {
    spdlog::warn("event=floating-release-failed container={} ifname={} error=\"{}\"",
                 allocation.attachment.container_id, allocation.attachment.ifname,
                 std::string(s.message()));
  }
}

absl::StatusOr<int> FloatingSource::reconcile(
    const std::function<std::vector<conf::Attachment>()>& held, int64_t now_ms) {
  const std::string node = node_().name;
  auto leases = allocator_.list();
  if (!leases.ok()) return leases.status();
  const auto held_now = held();
  const std::set<conf::Attachment> keep(held_now.begin(), held_now.end());
  int released = 0;
  for (const auto& l : *leases) {
    if (l.state != LeaseState::kBound || l.node != node || keep.contains(l.attachment)) continue;
    if (auto s = allocator_.release(l.attachment, now_ms); !s.ok()) return s;
    spdlog::info("event=floating-lease-reconciled ip={} container={} ifname={}", l.ip.toString(),
                 l.attachment.container_id, l.attachment.ifname);
    ++released;
  }
  return released;
}

std::optional<Pool> FloatingSource::poolOf(const conf::IpAddress& ip) const {
  for (const auto& p : allocator_.pools()) {
    if (p.subnet.contains(ip)) return p;
  }
  return std::nullopt;
}

}  // namespace quasar::ipam::floating
