#pragma once
// VLAN sub-interfaces of the uplink, for floating-IP pools whose subnet is a tagged VLAN: the
// pods' traffic (their proxy entries, gratuitous ARPs, macvlan parents) goes through
// `<uplink>.<vid>`. Operations act in the namespace of the socket they are given; not
// thread-safe. Needs a kernel with 802.1Q support (CONFIG_VLAN_8021Q): without it creation is
// Unimplemented.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/netlink_socket.h"
#include "routing/nl_message.h"

namespace quasar::routing {

// "<parent>.<vid>" when that fits in IFNAMSIZ - 1 characters, otherwise the parent's name cut
// short so that ".<vid>" still fits (one uplink per node, so the cut name stays unique).
// Empty for a vid outside 1..4094.
std::string vlanLinkName(const std::string& parent, uint16_t vid);

// RTM_NEWLINK (create, exclusive, up) of kind vlan on `parent_ifindex` with id `vid`; `mtu` 0
// inherits the parent's.
NlMessage vlanCreateMessage(const std::string& name, int parent_ifindex, uint16_t vid, int mtu);
// The VLAN id of a vlan link's RTM_NEWLINK message; nullopt for any other message.
std::optional<uint16_t> parseVlanId(const nlmsghdr* nlh);

// Makes sure vlanLinkName(parent, vid) exists as a vlan of `parent` with id `vid` and is up
// (with `mtu` when > 0). Idempotent; returns its index. InvalidArgument for a bad vid, NotFound
// without the parent, FailedPrecondition when the name is taken by another kind of link, or a
// VLAN of another parent or id (it is left alone).
absl::StatusOr<int> ensureVlanLink(NetlinkSocket& sock, const std::string& parent, uint16_t vid,
                                   int mtu = 0);
// Deletes vlanLinkName(parent, vid). Idempotent: success when it does not exist. Routes and
// neighbour entries through it go with it.
absl::Status deleteVlanLink(NetlinkSocket& sock, const std::string& parent, uint16_t vid);

}  // namespace quasar::routing
