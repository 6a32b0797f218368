#include "cni/commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "cni/daemon_client.h"
#include "cni/errors.h"
#include "cni/result.h"
#include "cni/underlay.h"
#include "routing/netns.h"
#include "routing/pod_link.h"

namespace quasar::cni {
namespace {

namespace pb = quasar::api::v1;

absl::StatusOr<std::vector<conf::IpAddress>> allocationIps(const pb::Allocation& a) {
  std::vector<conf::IpAddress> ips;
  for (const auto& text : a.ips()) {
    auto p = conf::IpPrefix::parse(text);
    if (!p.ok()) return absl::InternalError(absl::StrCat("quasard returned ", text));
    ips.push_back(p->address());
  }
  return ips;
}

routing::PodLinkSpec podSpec(const Invocation& inv, const std::vector<conf::IpAddress>& ips,
                             int mtu) {
  routing::PodLinkSpec spec;
  spec.netns_path = inv.env.netns;
  spec.host_ifname = routing::hostVethName({inv.env.container_id, inv.env.ifname});
  spec.pod_ifname = inv.env.ifname;
  spec.ips = ips;
  spec.mtu = mtu;
  spec.pod_mac = inv.conf.requested_mac
                     ? *inv.conf.requested_mac
                     : routing::podMacFor({inv.env.container_id, inv.env.ifname});
  return spec;
}

routing::DefaultRoute defaultRouteMode(const conf::NetConf& c) {
  if (!c.default_route) return routing::DefaultRoute::kIfNone;
  return *c.default_route ? routing::DefaultRoute::kReplace : routing::DefaultRoute::kNone;
}

// The result reports the default route only for the interface that got it.
Result ourResult(const routing::PodLinkSpec& spec) {
  Result r;
  r.interfaces.push_back(
      {spec.host_ifname, conf::macToString(routing::kHostVethMac), spec.mtu, ""});
  r.interfaces.push_back(
      {spec.pod_ifname, conf::macToString(spec.pod_mac), spec.mtu, spec.netns_path});
  const auto gw = *conf::IpAddress::parse(routing::kPodGatewayV4);
  for (const auto& ip : spec.ips) r.ips.push_back({conf::IpPrefix::host(ip), gw, 1});
  if (spec.default_route) r.routes.push_back({*conf::IpPrefix::parse("0.0.0.0/0"), gw});
  return r;
}

}  // namespace

absl::StatusOr<nlohmann::json> cmdAdd(const Invocation& inv) {
  const auto t0 = std::chrono::steady_clock::now();
  Result result;
  if (!inv.conf.prev_result.is_null()) {
    auto prev = parseResult(inv.conf.prev_result);
    if (!prev.ok()) return withCode(prev.status(), kInvalidConfig);
    result = *prev;
  }
  const conf::Attachment attachment{inv.env.container_id, inv.env.ifname};
  const std::string host_ifname = routing::hostVethName(attachment);
  const conf::Mac pod_mac =
      inv.conf.requested_mac ? *inv.conf.requested_mac : routing::podMacFor(attachment);
  // A namespace that is gone fails here, before anything is allocated.
  auto netns = routing::openNetns(inv.env.netns);
  if (!netns.ok()) {
    return absl::IsNotFound(netns.status()) ? withCode(netns.status(), kUnknownContainer)
                                            : netns.status();
  }

  DaemonClient daemon(inv.conf.socket, inv.conf.timeout_ms);
  pb::AllocateRequest req;
  req.mutable_attachment()->set_container_id(inv.env.container_id);
  req.mutable_attachment()->set_ifname(inv.env.ifname);
  req.set_network(inv.conf.name);
  req.set_netns(inv.env.netns);
  req.mutable_pod()->set_namespace_(inv.env.pod_namespace);
  req.mutable_pod()->set_name(inv.env.pod_name);
  req.mutable_pod()->set_uid(inv.env.pod_uid);
  for (const auto& ip : inv.conf.requested_ips) req.add_requested_ips(ip.toString());
  if (auto s = daemon.sendAllocate(req); !s.ok()) return s;
  // While quasard reserves the address: the sockets, which change nothing in the kernel. The
  // veth is made only once quasard holds the attachment, so a GC never sees it unowned.
  auto link = routing::PodLinkBuilder::start(std::move(*netns), inv.env.netns, host_ifname,
                                             inv.env.ifname, pod_mac);
  auto alloc = daemon.receiveAllocate();
  if (!alloc.ok()) return alloc.status();
  // Undo in reverse order: the veth and its /32 routes are gone before the address is released
  // (it may be handed out again at once), and only what this ADD allocated is released: a
  // repeated ADD of a live attachment must not take its address away.
  absl::Cleanup release = [&] {
    if (link.ok()) link->reset();
    if (!alloc->created()) return;
    // The commit's answer comes first on the connection. Not committed (or quasard gone):
    // nothing to release.
    if (!daemon.awaitDurable().ok()) return;
    if (auto r = daemon.release(inv.env.container_id, inv.env.ifname); !r.ok()) {
      spdlog::error("event=add-rollback-release-failed container={} ifname={} error=\"{}\"",
                    inv.env.container_id, inv.env.ifname, std::string(r.status().message()));
    }
  };
  if (!link.ok()) return link.status();
  const int mtu = inv.conf.mtu ? inv.conf.mtu : static_cast<int>(alloc->mtu());
  if (isMacvlan(alloc->allocation())) {
    // A floating address in macvlan mode: no veth, the pod sits on the physical subnet itself.
    link->reset();
    auto ips = allocationIps(alloc->allocation());
    if (!ips.ok()) return ips.status();
    if (ips->size() != 1) return absl::InternalError("a floating address is one address");
    auto ours = addMacvlanPod(inv, alloc->allocation().underlay(), ips->front(), pod_mac, mtu);
    if (!ours.ok()) return ours.status();
    absl::Cleanup undo_macvlan = [&] { (void)removeMacvlanPod(inv); };
    if (auto s = daemon.awaitDurable(); !s.ok()) return s;
    std::move(undo_macvlan).Cancel();
    std::move(release).Cancel();
    result.append(*ours);
    spdlog::info("event=add container={} netns={} ifname={} mode=macvlan device={} ips={}",
                 inv.env.container_id, inv.env.netns, inv.env.ifname,
                 alloc->allocation().underlay().device(), alloc->allocation().ips(0));
    return renderResult(result, inv.conf.cni_version);
  }
  // While quasard commits the address: the veth pair.
  if (auto created = (*link)->create(mtu); !created.ok()) {
    if (absl::IsAlreadyExists(created)) {
      return withCode(absl::AlreadyExistsError(
                          absl::StrCat("attachment ", inv.env.container_id, "/", inv.env.ifname,
                                       " already exists (", created.message(), ")")),
                      kAttachmentExists);
    }
    return created;
  }
  auto ips = allocationIps(alloc->allocation());
  if (!ips.ok()) return ips.status();
  auto since_start = [&t0] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  const double alloc_ms = since_start();
  if (auto s = (*link)->configure(*ips, mtu, defaultRouteMode(inv.conf)); !s.ok()) return s;
  if (alloc->allocation().source() == kFloatingSource) {
    // quasard removes the proxy entry when the rollback releases the address.
    if (auto s =
            announceFloating(alloc->allocation().underlay(), ips->front(), host_ifname, pod_mac);
        !s.ok()) {
      return s;
    }
  }
  const double configured_ms = since_start();
  // quasard committed while the interfaces were built; only a durable address is reported.
  if (auto s = daemon.awaitDurable(); !s.ok()) return s;
  (*link)->commit();
  std::move(release).Cancel();
  auto spec = podSpec(inv, *ips, mtu);
  spec.default_route = (*link)->hasDefaultRoute();
  result.append(ourResult(spec));
  spdlog::info(
      "event=add container={} netns={} ifname={} host_ifname={} ips={} mtu={} "
      "allocated_at_ms={:.2f} configured_at_ms={:.2f} total_ms={:.2f}",
      inv.env.container_id, inv.env.netns, inv.env.ifname, host_ifname, alloc->allocation().ips(0),
      mtu, alloc_ms, configured_ms, since_start());
  return renderResult(result, inv.conf.cni_version);
}

absl::Status cmdDel(const Invocation& inv) {
  const auto host = routing::hostVethName({inv.env.container_id, inv.env.ifname});
  // quasard removes the veth after answering and holds the address until it is gone, so the
  // kernel's slow veth teardown stays out of the runtime's DEL and the address is never live
  // twice. With quasard down nothing is done and the runtime retries (code 11).
  DaemonClient daemon(inv.conf.socket, inv.conf.timeout_ms);
  auto r = daemon.release(inv.env.container_id, inv.env.ifname, host);
  if (!r.ok()) return r.status();
  // A macvlan pod's interface is not a veth the reaper removes: it lives in the pod's
  // namespace, which the runtime may keep after DEL.
  if (r->underlay_mode() == "macvlan") {
    if (auto s = removeMacvlanPod(inv); !s.ok()) return s;
  }
  spdlog::info("event=del container={} ifname={} host_ifname={} released={}", inv.env.container_id,
               inv.env.ifname, host, r->released_ips_size());
  return absl::OkStatus();
}

absl::Status cmdCheck(const Invocation& inv) {
  if (inv.conf.prev_result.is_null()) {
    return withCode(absl::InvalidArgumentError("CHECK needs prevResult"), kInvalidConfig);
  }
  auto prev = parseResult(inv.conf.prev_result);
  if (!prev.ok()) return withCode(prev.status(), kInvalidConfig);
  DaemonClient daemon(inv.conf.socket, inv.conf.timeout_ms);
  auto alloc = daemon.get(inv.env.container_id, inv.env.ifname);
  if (absl::IsNotFound(alloc.status())) {
    return withCode(
        absl::FailedPreconditionError(absl::StrCat("quasard holds no address for ",
                                                   inv.env.container_id, "/", inv.env.ifname)),
        kCheckFailed);
  }
  if (!alloc.ok()) return alloc.status();
  auto ips = allocationIps(*alloc);
  if (!ips.ok()) return ips.status();
  for (const auto& ip : *ips) {
    bool in_prev = false;
    for (const auto& p : prev->ips) in_prev |= p.address.address() == ip;
    if (!in_prev) {
      return withCode(absl::FailedPreconditionError(absl::StrCat(
                          "quasard's address ", ip.toString(), " is not in prevResult")),
                      kCheckFailed);
    }
  }
  int mtu = inv.conf.mtu;
  if (mtu == 0) {
    for (const auto& i : prev->interfaces) {
      if (i.name == inv.env.ifname && i.mtu) mtu = *i.mtu;
    }
  }
  auto spec = podSpec(inv, *ips, mtu);
  // ADD reported the default route only where it set it (see ourResult).
  const auto gw = *conf::IpAddress::parse(routing::kPodGatewayV4);
  spec.default_route = std::any_of(prev->routes.begin(), prev->routes.end(), [&](const auto& r) {
    return r.dst.length() == 0 && r.gw == gw;
  });
  if (mtu == 0) {
    auto st = daemon.status();
    if (!st.ok()) return st.status();
    spec.mtu = static_cast<int>(st->mtu());
  }
  if (auto s = routing::checkPodLink(spec); !s.ok()) return withCode(s, kCheckFailed);
  return absl::OkStatus();
}

absl::Status cmdGc(const Invocation& inv) {
  // Without the key every allocation of the network would go, live pods' included: a caller
  // that lost it is far likelier than a node with no pods.
  if (!inv.conf.valid_attachments) {
    return withCode(absl::InvalidArgumentError(
                        "GC needs cni.dev/valid-attachments (an empty list to release all)"),
                    kInvalidConfig);
  }
  const auto& valid = *inv.conf.valid_attachments;
  DaemonClient daemon(inv.conf.socket, inv.conf.timeout_ms);
  pb::GcRequest req;
  req.set_network(inv.conf.name);
  for (const auto& a : valid) {
    auto* v = req.add_valid();
    v->set_container_id(a.container_id);
    v->set_ifname(a.ifname);
  }
  // quasard releases the stale attachments and removes the veths no attachment owns: only it
  // knows which attachments an ADD in flight holds.
  auto released = daemon.gc(req);
  if (!released.ok()) return released.status();
  spdlog::info("event=gc network={} valid={} released={} veths_removed={}", inv.conf.name,
               valid.size(), released->released_size(), released->veths_removed());
  return absl::OkStatus();
}

absl::Status cmdStatus(const Invocation& inv) {
  DaemonClient daemon(inv.conf.socket, inv.conf.timeout_ms);
  auto st = daemon.status();
  if (!st.ok()) return withCode(st.status(), kNotAvailable);
  if (!st->ready()) {
    return withCode(absl::UnavailableError(absl::StrCat("quasard on node ", st->node_name(),
                                                        " has no free pod address")),
                    kNotAvailable);
  }
  return absl::OkStatus();
}

}  // namespace quasar::cni
