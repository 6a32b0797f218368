#include "daemon/cluster/objects/node.h"

#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

using internal::index;
using internal::Reader;

std::vector<conf::IpAddress> Node::internalIps() const {
  std::vector<conf::IpAddress> out;
  for (const auto& a : addresses) {
    if (a.type != "InternalIP") continue;
    if (auto ip = conf::IpAddress::parse(a.address); ip.ok()) out.push_back(*ip);
  }
  return out;
}

absl::StatusOr<Node> parseNode(const nlohmann::json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kNode)));
  Node n;
  n.metadata = internal::readEnvelope(r, j, Kind::kNode);
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* spec = r.object(j, "spec", "");
  if (spec == nullptr) spec = &kEmpty;
  std::vector<std::string> cidrs = r.stringList(*spec, "podCIDRs", "spec");
  const std::string single = r.str(*spec, "podCIDR", "spec");
  const bool from_list = !cidrs.empty();
  if (!from_list && !single.empty()) cidrs.push_back(single);
  for (size_t i = 0; i < cidrs.size() && r.ok(); ++i) {
    auto p = conf::IpPrefix::parse(cidrs[i]);
    if (!p.ok()) {
      r.fail(from_list ? index("spec.podCIDRs", i) : "spec.podCIDR", "must be a CIDR");
    } else {
      n.pod_cidrs.push_back(*p);
    }
  }
  const nlohmann::json* status = r.object(j, "status", "");
  const nlohmann::json* addresses = status ? r.array(*status, "addresses", "status") : nullptr;
  for (size_t i = 0; addresses != nullptr && i < addresses->size() && r.ok(); ++i) {
    const std::string p = index("status.addresses", i);
    const nlohmann::json& a = (*addresses)[i];
    if (!a.is_object()) {
      r.fail(p, "must be a mapping");
      break;
    }
    NodeAddress na{r.str(a, "type", p, true), r.str(a, "address", p, true)};
    if (r.ok() && (na.type == "InternalIP" || na.type == "ExternalIP") &&
        !conf::IpAddress::parse(na.address).ok()) {
      r.fail(p + ".address", "must be an IP address");
    }
    n.addresses.push_back(std::move(na));
  }
  if (!r.ok()) return r.status();
  return n;
}

absl::StatusOr<Namespace> parseNamespace(const nlohmann::json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kNamespace)));
  Namespace ns;
  ns.metadata = internal::readEnvelope(r, j, Kind::kNamespace);
  if (!r.ok()) return r.status();
  return ns;
}

}  // namespace quasar::objects
