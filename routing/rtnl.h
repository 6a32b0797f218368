#pragma once
// rtnetlink requests quasar needs (links, addresses, routes, neighbours): builders that produce
// bytes (unit-tested without a kernel), parsers of the kernel's replies, and thin operations that
// send them over a NetlinkSocket.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "conf/net_conf.h"
#include "routing/netlink_socket.h"

namespace quasar::routing {

// Route protocol numbers of the routes quasar installs (see /etc/iproute2/rt_protos.d), so that
// reconciliation tells its own routes from everyone else's: 113 for the plugin's /32 routes to
// local pods, 114 for the routing agent's routes to other nodes' blocks and local blackholes.
inline constexpr uint8_t kRouteProtocol = 113;
inline constexpr uint8_t kNodeRouteProtocol = 114;
// RT_SCOPE_LINK, for callers outside routing/ (which include no netlink header).
inline constexpr uint8_t kScopeLink = 253;

struct VethSpec {
  std::string name;  // in the calling socket's namespace
  conf::Mac mac;
  int mtu = 1500;
  std::string peer_name;  // created directly in the namespace of peer_netns_fd
  conf::Mac peer_mac;
  int peer_netns_fd = -1;
};

// Settings of an existing link, applied by one message (absent fields are left alone).
struct LinkSettings {
  int ifindex = 0;
  std::optional<bool> up = std::nullopt;  // up or down; unset: unchanged
  int mtu = 0;                            // 0: unchanged
  bool proxy_arp = false;
  // Answer ARP on this link only for senders routed back through it
  // (net.ipv4.conf.<dev>.arp_filter).
  bool arp_filter = false;
  std::optional<int> rp_filter = std::nullopt;  // net.ipv4.conf.<dev>.rp_filter
  // No IPv6 link-local address (addr_gen_mode none): an IPv4-only pod's veth then adds nothing to
  // the IPv6 routing tables, which every MTU change walks. Must precede the link going up.
  bool no_ipv6_link_local = false;
};

struct Route {
  conf::IpPrefix dst;
  std::optional<conf::IpAddress> gateway;
  int ifindex = 0;
  uint8_t scope = 0;  // RT_SCOPE_UNIVERSE; RT_SCOPE_LINK for on-link destinations
  bool onlink = false;
  uint8_t protocol = kRouteProtocol;
  uint32_t table = 254;  // RT_TABLE_MAIN
  bool blackhole = false;
  std::optional<conf::IpAddress> source = std::nullopt;  // RTA_PREFSRC ("src")
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::optional<conf::Mac> mac;
  int mtu = 0;
  bool up = false;
  std::string kind;  // "veth", "bridge", ...; empty for none
  int link = 0;      // IFLA_LINK: the lower device of a vlan or macvlan (0: none)
};

struct AddressInfo {
  int ifindex = 0;
  conf::IpPrefix prefix;
};

// A neighbour (ARP/NDP) entry, or with family AF_BRIDGE a forwarding database entry.
struct NeighbourInfo {
  int ifindex = 0;
  uint8_t family = 0;
  std::optional<conf::IpAddress> dst;
  std::optional<conf::Mac> lladdr;
  uint16_t state = 0;
  uint8_t flags = 0;
  uint8_t protocol = 0;  // NDA_PROTOCOL: who installed the entry (0: unknown)
};

struct RouteInfo {
  conf::IpPrefix dst;
  std::optional<conf::IpAddress> gateway;
  int oif = 0;
  uint8_t protocol = 0;
  uint8_t scope = 0;
  uint8_t type = 0;
  uint32_t table = 0;
  uint32_t flags = 0;
  std::optional<conf::IpAddress> prefsrc;
};

// Builders.
NlMessage vethCreateMessage(const VethSpec& spec);
NlMessage linkDeleteMessage(const std::string& name);
// Moves link `name` into link group `group` (IFLA_GROUP).
NlMessage linkGroupMessage(const std::string& name, uint32_t group);
// The same for the link with index `ifindex`: a link made later under the same name is not it.
NlMessage linkGroupMessage(int ifindex, uint32_t group);
// Deletes every link of group `group` in one unregistration (and, for a veth, its peer).
NlMessage groupDeleteMessage(uint32_t group);
// Brings a link up, setting its MTU in the same message when mtu > 0.
NlMessage linkUpMessage(int ifindex, int mtu = 0);
NlMessage linkMtuMessage(int ifindex, int mtu);
NlMessage linkSetMessage(const LinkSettings& settings);
NlMessage linkGetMessage(const std::string& name);
// Dumps all links, without statistics. Any IFLA_EXT_MASK makes the kernel size each dump
// datagram for the largest link message; without one it uses a page and silently leaves out a
// link whose message is larger (many altnames or VFs).
NlMessage linkDumpMessage();
// `flags`: IFA_F_* (sent as IFA_FLAGS, which holds those past 8 bits: IFA_F_NOPREFIXROUTE).
NlMessage addressAddMessage(int ifindex, const conf::IpPrefix& prefix, uint32_t flags = 0);
NlMessage addressDeleteMessage(int ifindex, const conf::IpPrefix& prefix);
// `replace`: create or replace the route with this destination.
NlMessage routeAddMessage(const Route& route, bool replace = false);
// Names the route by destination, table, protocol, type and, when set, the link (oif).
NlMessage routeDeleteMessage(const RouteInfo& route);
NlMessage neighbourAddMessage(int ifindex, const conf::IpAddress& ip, const conf::Mac& mac);
NlMessage neighbourDeleteMessage(const NeighbourInfo& n);

// Parsers; nullopt for messages of another type or malformed ones. Links and routes parse from
// both their NEW and DEL messages (notifications of a removal carry the same layout).
std::optional<LinkInfo> parseLink(const nlmsghdr* nlh);
std::optional<AddressInfo> parseAddress(const nlmsghdr* nlh);
std::optional<RouteInfo> parseRoute(const nlmsghdr* nlh);
std::optional<NeighbourInfo> parseNeighbour(const nlmsghdr* nlh);

// Operations on the socket's namespace. Errors carry the kernel's reason; "not found" is
// NotFound and "exists" is AlreadyExists, so callers decide what is benign.
class Rtnl {
 public:
  explicit Rtnl(NetlinkSocket& sock) : sock_(sock) {}
  absl::Status createVeth(const VethSpec& spec);
  absl::Status deleteLink(const std::string& name);
  absl::Status setLinkUp(int ifindex, int mtu = 0);
  absl::Status setLinkMtu(int ifindex, int mtu);
  absl::StatusOr<LinkInfo> getLink(const std::string& name);
  absl::StatusOr<std::vector<LinkInfo>> listLinks();
  absl::Status addAddress(int ifindex, const conf::IpPrefix& prefix);
  absl::Status deleteAddress(int ifindex, const conf::IpPrefix& prefix);
  // Makes `prefix` the link's only address of its family: adds it, removes the others.
  absl::Status setOnlyAddress(int ifindex, const conf::IpPrefix& prefix);
  absl::Status addRoute(const Route& route, bool replace = false);
  absl::Status deleteRoute(const RouteInfo& route);
  absl::Status addPermanentNeighbour(int ifindex, const conf::IpAddress& ip, const conf::Mac& mac);
  absl::StatusOr<std::vector<AddressInfo>> listAddresses(conf::Family family);
  absl::StatusOr<std::vector<RouteInfo>> listRoutes(conf::Family family);
  // `family`: AF_INET, AF_INET6, or AF_BRIDGE for FDB entries. Only those of `ifindex`.
  absl::StatusOr<std::vector<NeighbourInfo>> listNeighbours(uint8_t family, int ifindex);
  absl::Status deleteNeighbour(const NeighbourInfo& n);

 private:
  NetlinkSocket& sock_;
};

}  // namespace quasar::routing
