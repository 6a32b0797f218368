#pragma once
// The routed pod data path (as Calico and Galaxy build it): a veth pair whose node end has no
// address, a /32 route to the pod through it and proxy ARP on it; inside the pod, the address as
// a /32 and a default route via 169.254.1.1 on-link, with a permanent neighbour entry for it so
// the pod never has to ARP for its gateway.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "conf/net_conf.h"
#include "routing/fd.h"
#include "routing/netlink_socket.h"
#include "routing/netns.h"

namespace quasar::routing {

// Every node-side veth carries this MAC (as Calico's do); the pod's neighbour entry for the
// gateway points at it, so no lookup is needed.
inline constexpr conf::Mac kHostVethMac = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
inline constexpr char kPodGatewayV4[] = "169.254.1.1";
inline constexpr char kHostVethPrefix[] = "qsr";

// "qsr" + 11 hex digits of a hash of (container ID, ifname): unique per attachment, at most 15
// characters (IFNAMSIZ - 1), and computable by DEL without any state.
std::string hostVethName(const conf::Attachment& attachment);
// A locally administered unicast MAC derived from the attachment (0a:58 + 4 bytes of a hash), so
// it is known before the address is: the MAC only has to be unique on the pod's own veth link.
conf::Mac podMacFor(const conf::Attachment& attachment);

// Which of a pod's interfaces carries its IPv4 default route: the CNI spec allows several
// interfaces per container (Multus chains a second network this way), and a pod's main table
// holds one default route.
enum class DefaultRoute {
  kIfNone,   // add it unless the pod has one already: the first interface gets it
  kReplace,  // this interface takes it over from whichever has it
  kNone,     // never
};

struct PodLinkSpec {
  std::string netns_path;
  std::string host_ifname;
  std::string pod_ifname;
  std::vector<conf::IpAddress> ips;
  int mtu = 1500;
  conf::Mac pod_mac{};
  // Whether checkPodLink expects the pod's default route via this interface.
  bool default_route = true;
};

// Builds one pod's data path in phases, so that the caller can overlap them with other work
// (the plugin overlaps create() with quasard reserving the address):
//   start()     opens an rtnetlink socket in the pod's netns (no thread: see
//               openNetlinkSocketIn);
//   create()    makes the veth pair, the peer directly inside the pod's namespace (AlreadyExists
//               when either name is taken);
//   configure() gives the node side proxy ARP and a /32 route per address, and the pod side its
//               MTU, addresses, gateway neighbour and, as `default_route` says, the default
//               route (hasDefaultRoute() then says whether it got it);
//   commit()    keeps the result.
// Until commit(), the destructor removes whatever create() made. Not thread-safe.
class PodLinkBuilder {
 public:
  // `netns` is the pod's namespace, opened from `netns_path` (openNetns).
  static absl::StatusOr<std::unique_ptr<PodLinkBuilder>> start(Fd netns,
                                                               const std::string& netns_path,
                                                               std::string host_ifname,
                                                               std::string pod_ifname,
                                                               conf::Mac pod_mac);
  ~PodLinkBuilder();
  absl::Status create(int mtu);
  // `mtu` may differ from create()'s (it is then corrected on both ends).
  absl::Status configure(const std::vector<conf::IpAddress>& ips, int mtu,
                         DefaultRoute default_route = DefaultRoute::kIfNone);
  bool hasDefaultRoute() const { return default_route_; }
  void commit() { committed_ = true; }

 private:
  PodLinkBuilder(Fd netns, NetlinkSocket node_sock, NetlinkSocket pod_sock)
      : netns_(std::move(netns)),
        node_sock_(std::move(node_sock)),
        pod_sock_(std::move(pod_sock)) {}

  std::string netns_path_;
  std::string host_ifname_;
  std::string pod_ifname_;
  conf::Mac pod_mac_{};
  int created_mtu_ = 0;
  bool created_ = false;
  bool configured_ = false;
  bool default_route_ = false;
  bool committed_ = false;
  Fd netns_;
  NetlinkSocket node_sock_;
  NetlinkSocket pod_sock_;
};

// Turns IPv4 forwarding on in the calling namespace (the node's): quasard does it once at start,
// so the plugin's ADD does not.
absl::Status enableForwarding();

// Removes the node-side veth (the kernel removes its peer and the routes through it).
// Succeeds when it does not exist.
absl::Status deletePodLink(const std::string& host_ifname);

// The link group of node-side veths quasar is deleting ("qsr" and a zero byte): nothing else
// should use it, as deletePodLinks removes every link in it.
inline constexpr uint32_t kDoomedLinkGroup = 0x71737200;
// The kernel holds its RTNL lock while it unregisters a group, ~0.3 ms per pair here, and every
// pod ADD waits for that lock: a group of 8 stalls an ADD by ~2.5 ms at most (64: ~18 ms).
inline constexpr size_t kMaxLinksPerGroupDelete = 8;
// Removes node-side veths together, as deletePodLink does one: each joins kDoomedLinkGroup, then
// the group is deleted, so the kernel unregisters them at once and they share its RCU grace
// periods (32 pairs took 0.03 s this way, against 0.6 s one by one); at most
// kMaxLinksPerGroupDelete per group. One result per name, in order; a name that does not exist
// is deleted.
std::vector<absl::Status> deletePodLinks(const std::vector<std::string>& host_ifnames);
// The same by interface index: removes exactly the pairs that had these indexes, never one made
// later under the same name. One result per index; an index that no longer exists is deleted.
std::vector<absl::Status> deletePodLinksByIndex(const std::vector<int>& host_ifindexes);
// The index of node-side interface `host_ifname` (one ioctl); NotFound when there is none.
absl::StatusOr<int> hostVethIndex(const std::string& host_ifname);
// Verifies both ends, the addresses and the routes. FailedPrecondition naming what differs.
absl::Status checkPodLink(const PodLinkSpec& spec);
// Names of node-side veths in the calling namespace that carry quasar's prefix.
absl::StatusOr<std::vector<std::string>> listHostVeths();
struct HostVeth {
  std::string name;
  int index = 0;
};
// The same with their indexes, for deleting them by index.
absl::StatusOr<std::vector<HostVeth>> listHostVethLinks();

}  // namespace quasar::routing
