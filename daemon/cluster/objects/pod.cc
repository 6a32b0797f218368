#include "daemon/cluster/objects/pod.h"

#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

using internal::field;
using internal::index;
using internal::Reader;

std::optional<int32_t> Pod::namedPort(std::string_view name, Protocol protocol) const {
  for (const auto& c : containers) {
    for (const auto& p : c.ports) {
      if (p.name == name && p.protocol == protocol) return p.container_port;
    }
  }
  return std::nullopt;
}

namespace {

ContainerPort readContainerPort(Reader& r, const nlohmann::json& port, const std::string& p) {
  ContainerPort out;
  if (!port.is_object()) {
    r.fail(p, "must be a mapping");
    return out;
  }
  out.name = r.str(port, "name", p);
  if (r.ok() && !out.name.empty() && !internal::isPortName(out.name)) {
    r.fail(p + ".name", "must be an IANA service name (at most 15 lowercase a-z, 0-9, -)");
  }
  const auto number = r.integer(port, "containerPort", p);
  if (r.ok() && (!number || *number < 1 || *number > 65535)) {
    r.fail(p + ".containerPort", "must be in [1, 65535]");
  }
  out.container_port = number ? static_cast<int32_t>(*number) : 0;
  out.protocol = internal::readProtocol(r, port, p);
  return out;
}

void readStatus(Reader& r, const nlohmann::json& j, Pod& pod) {
  const nlohmann::json* status = r.object(j, "status", "");
  if (status == nullptr) return;
  pod.phase = r.str(*status, "phase", "status");
  const nlohmann::json* ips = r.array(*status, "podIPs", "status");
  for (size_t i = 0; ips != nullptr && i < ips->size() && r.ok(); ++i) {
    const std::string p = index("status.podIPs", i);
    const std::string text = (*ips)[i].is_object() ? r.str((*ips)[i], "ip", p, true) : "";
    if (!(*ips)[i].is_object()) {
      r.fail(p, "must be a mapping");
    } else if (auto ip = conf::IpAddress::parse(text); r.ok() && !ip.ok()) {
      r.fail(p + ".ip", "must be an IP address");
    } else if (r.ok()) {
      pod.pod_ips.push_back(*ip);
    }
  }
  const std::string single = r.str(*status, "podIP", "status");
  if (r.ok() && !single.empty()) {
    auto ip = conf::IpAddress::parse(single);
    if (!ip.ok()) {
      r.fail("status.podIP", "must be an IP address");
    } else if (pod.pod_ips.empty()) {
      pod.pod_ips.push_back(*ip);
    }
  }
}

}  // namespace

absl::StatusOr<Pod> parsePod(const nlohmann::json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kPod)));
  Pod pod;
  pod.metadata = internal::readEnvelope(r, j, Kind::kPod);
  const nlohmann::json* spec = r.object(j, "spec", "", true);
  if (spec != nullptr) {
    pod.node_name = r.str(*spec, "nodeName", "spec");
    pod.host_network = r.boolean(*spec, "hostNetwork", "spec");
    const nlohmann::json* cs = r.array(*spec, "containers", "spec");
    if (r.ok() && (cs == nullptr || cs->empty())) {
      r.fail("spec.containers", "must list at least one container");
    }
    for (size_t i = 0; cs != nullptr && i < cs->size() && r.ok(); ++i) {
      const std::string p = index("spec.containers", i);
      const nlohmann::json& c = (*cs)[i];
      if (!c.is_object()) {
        r.fail(p, "must be a mapping");
        break;
      }
      Container container;
      container.name = r.str(c, "name", p);
      if (r.ok() && !internal::isDns1123Label(container.name)) {
        r.fail(field(p, "name"), "is required and must be a DNS-1123 label");
      }
      const nlohmann::json* ports = r.array(c, "ports", p);
      for (size_t k = 0; ports != nullptr && k < ports->size() && r.ok(); ++k) {
        container.ports.push_back(readContainerPort(r, (*ports)[k], index(p + ".ports", k)));
      }
      pod.containers.push_back(std::move(container));
    }
  }
  readStatus(r, j, pod);
  if (!r.ok()) return r.status();
  return pod;
}

}  // namespace quasar::objects
