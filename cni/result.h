#pragma once
// The CNI Result, rendered in the format of each supported spec version, and parsed back from a
// previous plugin's prevResult (any supported version).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "nlohmann/json.hpp"

namespace quasar::cni {

// Oldest first; the last is what VERSION reports as current.
const std::vector<std::string>& supportedVersions();
bool isSupportedVersion(const std::string& v);
// OK when config version `version` (a supported one) has `command`; otherwise code 1
// (incompatible version): CHECK needs 0.4.0, GC and STATUS 1.1.0.
absl::Status commandAllowedIn(const std::string& command, const std::string& version);

struct Interface {
  std::string name;
  std::string mac;
  std::optional<int> mtu;  // rendered from 1.1.0 on
  std::string sandbox;     // empty on the node side
};

struct IpConfig {
  conf::IpPrefix address;
  std::optional<conf::IpAddress> gateway;
  std::optional<int> interface;  // index into interfaces
};

struct RouteConfig {
  conf::IpPrefix dst;
  std::optional<conf::IpAddress> gw;
};

struct Result {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<RouteConfig> routes;
  nlohmann::json dns = nlohmann::json::object();

  // Appends `other`, shifting its interface indices past ours (chaining after a prevResult).
  void append(const Result& other);
};

nlohmann::json renderResult(const Result& r, const std::string& version);
// InvalidArgument naming the field when the JSON is not a result.
absl::StatusOr<Result> parseResult(const nlohmann::json& j);

}  // namespace quasar::cni
