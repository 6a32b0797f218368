#include "daemon/cluster/objects/floating_ip_pool.h"

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/meta_parse.h"

namespace quasar::objects {

using internal::field;
using internal::index;
using internal::Reader;
using nlohmann::json;

namespace {

// "a-b" or "a", both ends inside `subnet`.
std::optional<IpRange> parseRange(Reader& r, const std::string& text, const conf::IpPrefix& subnet,
                                  const std::string& path) {
  const auto dash = text.find('-');
  auto first = conf::IpAddress::parse(text.substr(0, dash));
  auto last = dash == std::string::npos ? first : conf::IpAddress::parse(text.substr(dash + 1));
  if (!first.ok() || !last.ok()) {
    r.fail(path, absl::StrCat("\"", text, "\" must be an address or a range a-b"));
  } else if (!subnet.contains(*first) || !subnet.contains(*last)) {
    r.fail(path, absl::StrCat("\"", text, "\" must be inside ", subnet.toString()));
  } else if (*last < *first) {
    r.fail(path, absl::StrCat("\"", text, "\" ends before it starts"));
  } else {
    return IpRange{*first, *last};
  }
  return std::nullopt;
}

std::vector<IpRange> readRanges(Reader& r, const json& spec, const char* key,
                                const conf::IpPrefix& subnet) {
  std::vector<IpRange> out;
  const std::vector<std::string> texts = r.stringList(spec, key, "spec");
  for (size_t i = 0; i < texts.size() && r.ok(); ++i) {
    if (auto range = parseRange(r, texts[i], subnet, index(field("spec", key), i))) {
      out.push_back(*range);
    }
  }
  return out;
}

void readSpec(Reader& r, const json& spec, FloatingIPPoolSpec& out) {
  const std::string subnet = r.str(spec, "subnet", "spec", true);
  if (!r.ok()) return;
  auto p = conf::IpPrefix::parse(subnet);
  if (!p.ok()) {
    r.fail("spec.subnet", "must be a CIDR");
    return;
  }
  if (p->network() != *p) {
    r.fail("spec.subnet",
           absl::StrCat("must be a network address (", p->network().toString(), ")"));
    return;
  }
  out.subnet = *p;
  const std::string gateway = r.str(spec, "gateway", "spec");
  if (r.ok() && !gateway.empty()) {
    auto g = conf::IpAddress::parse(gateway);
    if (!g.ok() || !out.subnet.contains(*g)) {
      r.fail("spec.gateway", absl::StrCat("must be an address inside ", subnet));
    } else {
      out.gateway = *g;
    }
  }
  out.ranges = readRanges(r, spec, "ranges", out.subnet);
  if (r.ok() && out.ranges.empty()) r.fail("spec.ranges", "must list at least one range");
  out.exclude = readRanges(r, spec, "exclude", out.subnet);
  const auto vlan = r.integer(spec, "vlan", "spec");
  if (r.ok() && vlan && (*vlan < 0 || *vlan > 4094)) {
    r.fail("spec.vlan", "must be in [0, 4094] (0: untagged)");
  }
  out.vlan = vlan && r.ok() ? static_cast<int32_t>(*vlan) : 0;
  const std::vector<std::string> node_subnets = r.stringList(spec, "nodeSubnets", "spec");
  for (size_t i = 0; i < node_subnets.size() && r.ok(); ++i) {
    auto ns = conf::IpPrefix::parse(node_subnets[i]);
    if (!ns.ok()) {
      r.fail(index("spec.nodeSubnets", i), "must be a CIDR");
    } else {
      out.node_subnets.push_back(ns->network());
    }
  }
  out.node_selector = internal::readLabelMapSelector(r, spec, "nodeSelector", "spec");
  out.max_allocated = r.integer(spec, "maxAllocated", "spec");
  if (r.ok() && out.max_allocated && *out.max_allocated < 1) {
    r.fail("spec.maxAllocated", "must be at least 1 (leave it out for no limit)");
  }
  const std::string mode = r.str(spec, "mode", "spec");
  if (mode == "macvlan") {
    out.mode = FloatingIPMode::kMacvlan;
  } else if (r.ok() && !mode.empty() && mode != "veth") {
    r.fail("spec.mode", "must be veth or macvlan");
  }
}

}  // namespace

absl::StatusOr<FloatingIPPool> parseFloatingIPPool(const json& j) {
  Reader r(internal::refOf(j, kindName(Kind::kFloatingIPPool)));
  FloatingIPPool pool;
  pool.metadata = internal::readEnvelope(r, j, Kind::kFloatingIPPool);
  if (const json* spec = r.object(j, "spec", "", true)) readSpec(r, *spec, pool.spec);
  if (!r.ok()) return r.status();
  return pool;
}

}  // namespace quasar::objects
