#pragma once
// The CNI network configuration quasar's plugin reads on stdin, parsed and validated.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "conf/ip.h"
#include "nlohmann/json.hpp"

namespace quasar::conf {

using Mac = std::array<uint8_t, 6>;
// "0a:58:00:00:00:01". InvalidArgument for anything else, and for a MAC no interface may carry:
// multicast (broadcast included) or all-zero.
absl::StatusOr<Mac> parseMac(absl::string_view text);
std::string macToString(const Mac& mac);

// One (container, interface) pair: the key of everything quasar records about a pod's interface.
struct Attachment {
  std::string container_id;
  std::string ifname;
  // "<container id>/<ifname>": how quasard keys an attachment in its records.
  std::string key() const { return container_id + "/" + ifname; }
  auto operator<=>(const Attachment&) const = default;
};

// quasard's gRPC API, and the socket the CNI plugin talks to.
inline constexpr char kDefaultSocket[] = "/run/quasar/quasard.sock";
inline constexpr char kDefaultCniSocket[] = "/run/quasar/cni.sock";

// quasard publishes the pod MTU it derives in a file next to its plugin socket, so the plugin
// creates the veth pair with the right MTU before quasard has answered, instead of changing it
// afterwards (Calico's plugin reads /var/lib/calico/mtu for the same reason). Only a hint: the
// MTU in quasard's answer is the one applied.
std::string podMtuFile(const std::string& cni_socket);
// The hint, or 0 when the file is missing or does not hold a plausible MTU.
int readPodMtuHint(const std::string& cni_socket);
// Written to a temporary file and renamed, so a reader never sees half of it.
absl::Status writePodMtuHint(const std::string& cni_socket, int mtu);

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  // quasard's plugin socket (its cniSocket).
  std::string socket = kDefaultCniSocket;
  // Pod MTU; 0 means the MTU quasard derives from the uplink and the routing mode.
  int mtu = 0;
  // Where the plugin appends its log lines (besides stderr); empty for none.
  std::string log_file;
  std::string log_level = "info";
  // Deadline of each call to quasard.
  int timeout_ms = 10000;
  // runtimeConfig capabilities: "ips" (static IPs) and "mac".
  std::vector<IpAddress> requested_ips;
  std::optional<Mac> requested_mac;
  // Whether this interface gets the pod's default route: nullopt (the default) when the pod has
  // none yet, i.e. its first interface; true takes it over; false never.
  std::optional<bool> default_route;
  // The previous plugin's result in a chain; null when absent.
  nlohmann::json prev_result;
  // GC: cni.dev/valid-attachments; nullopt when the key is absent (an empty list is a list).
  std::optional<std::vector<Attachment>> valid_attachments;
};

// Validates a decoded configuration. Errors are InvalidArgument and name the offending field.
// The cniVersion is only checked for presence: which versions are supported is the plugin's call.
absl::StatusOr<NetConf> parseNetConf(const nlohmann::json& j);

}  // namespace quasar::conf
