#include "cni/result.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cni/errors.h"

namespace quasar::cni {
namespace {

using nlohmann::json;

bool before(const std::string& version, const char* other) {
  // Supported versions compare correctly as strings: 0.3.0 < 0.3.1 < 0.4.0 < 1.0.0 < 1.1.0.
  return version < other;
}

absl::Status bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("prevResult ", field, ": ", what));
}

}  // namespace

const std::vector<std::string>& supportedVersions() {
  static const auto* v = new std::vector<std::string>{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return *v;
}

bool isSupportedVersion(const std::string& v) {
  const auto& all = supportedVersions();
  return std::find(all.begin(), all.end(), v) != all.end();
}

absl::Status commandAllowedIn(const std::string& command, const std::string& version) {
  const char* first = command == "CHECK"                       ? "0.4.0"
                      : command == "GC" || command == "STATUS" ? "1.1.0"
                                                               : nullptr;
  if (first == nullptr || !before(version, first)) return absl::OkStatus();
  return withCode(
      absl::InvalidArgumentError(absl::StrCat("config version ", version, " does not allow ",
                                              command, " (it needs ", first, " or later)")),
      kIncompatibleVersion);
}

void Result::append(const Result& other) {
  const int offset = static_cast<int>(interfaces.size());
  interfaces.insert(interfaces.end(), other.interfaces.begin(), other.interfaces.end());
  for (auto ip : other.ips) {
    if (ip.interface) *ip.interface += offset;
    ips.push_back(ip);
  }
  routes.insert(routes.end(), other.routes.begin(), other.routes.end());
  if (dns.empty()) dns = other.dns;
}

json renderResult(const Result& r, const std::string& version) {
  json out{{"cniVersion", version}};
  json ifaces = json::array();
  for (const auto& i : r.interfaces) {
    json j{{"name", i.name}};
    if (!i.mac.empty()) j["mac"] = i.mac;
    if (i.mtu && !before(version, "1.1.0")) j["mtu"] = *i.mtu;
    if (!i.sandbox.empty()) j["sandbox"] = i.sandbox;
    ifaces.push_back(j);
  }
  out["interfaces"] = ifaces;
  json ips = json::array();
  for (const auto& ip : r.ips) {
    json j{{"address", ip.address.toString()}};
    // 0.3.x and 0.4.0 name the family explicitly; 1.0.0 dropped it.
    if (before(version, "1.0.0"))
      j["version"] = ip.address.family() == conf::Family::kV4 ? "4" : "6";
    if (ip.gateway) j["gateway"] = ip.gateway->toString();
    if (ip.interface) j["interface"] = *ip.interface;
    ips.push_back(j);
  }
  out["ips"] = ips;
  json routes = json::array();
  for (const auto& rt : r.routes) {
    json j{{"dst", rt.dst.toString()}};
    if (rt.gw) j["gw"] = rt.gw->toString();
    routes.push_back(j);
  }
  out["routes"] = routes;
  out["dns"] = r.dns;
  return out;
}

absl::StatusOr<Result> parseResult(const json& j) {
  if (!j.is_object()) return bad("", "must be an object");
  Result r;
  if (auto it = j.find("interfaces"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return bad("interfaces", "must be a list");
    for (const auto& i : *it) {
      if (!i.is_object() || !i.contains("name") || !i["name"].is_string()) {
        return bad("interfaces", "entries need a string name");
      }
      Interface iface{i["name"].get<std::string>(), "", std::nullopt, ""};
      if (i.contains("mac") && i["mac"].is_string()) iface.mac = i["mac"].get<std::string>();
      if (i.contains("mtu") && i["mtu"].is_number_integer()) iface.mtu = i["mtu"].get<int>();
      if (i.contains("sandbox") && i["sandbox"].is_string()) {
        iface.sandbox = i["sandbox"].get<std::string>();
      }
      r.interfaces.push_back(iface);
    }
  }
  if (auto it = j.find("ips"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return bad("ips", "must be a list");
    for (const auto& i : *it) {
      if (!i.is_object() || !i.contains("address") || !i["address"].is_string()) {
        return bad("ips", "entries need a string address");
      }
      auto p = conf::IpPrefix::parse(i["address"].get<std::string>());
      if (!p.ok()) return bad("ips.address", p.status().message());
      IpConfig ip{*p, std::nullopt, std::nullopt};
      if (i.contains("gateway") && i["gateway"].is_string()) {
        auto gw = conf::IpAddress::parse(i["gateway"].get<std::string>());
        if (!gw.ok()) return bad("ips.gateway", gw.status().message());
        ip.gateway = *gw;
      }
      if (i.contains("interface") && i["interface"].is_number_integer()) {
        ip.interface = i["interface"].get<int>();
      }
      r.ips.push_back(ip);
    }
  }
  if (auto it = j.find("routes"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return bad("routes", "must be a list");
    for (const auto& rt : *it) {
      if (!rt.is_object() || !rt.contains("dst") || !rt["dst"].is_string()) {
        return bad("routes", "entries need a string dst");
      }
      auto dst = conf::IpPrefix::parse(rt["dst"].get<std::string>());
      if (!dst.ok()) return bad("routes.dst", dst.status().message());
      RouteConfig route{*dst, std::nullopt};
      if (rt.contains("gw") && rt["gw"].is_string()) {
        auto gw = conf::IpAddress::parse(rt["gw"].get<std::string>());
        if (!gw.ok()) return bad("routes.gw", gw.status().message());
        route.gw = *gw;
      }
      r.routes.push_back(route);
    }
  }
  if (auto it = j.find("dns"); it != j.end() && it->is_object()) r.dns = *it;
  return r;
}

}  // namespace quasar::cni
