#include "routing/vlan.h"

#include <net/if.h>
// After net/if.h: linux/if_link.h brings no second definition of IFF_* then.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "routing/rtnl.h"

namespace quasar::routing {

std::string vlanLinkName(const std::string& parent, uint16_t vid) {
  if (vid == 0 || vid > 4094) return "";
  const std::string suffix = absl::StrCat(".", vid);
  const size_t max_parent = IFNAMSIZ - 1 - suffix.size();
  return parent.substr(0, max_parent) + suffix;
}

NlMessage vlanCreateMessage(const std::string& name, int parent_ifindex, uint16_t vid, int mtu) {
  NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  m.putString(IFLA_IFNAME, name);
  m.putU32(IFLA_LINK, static_cast<uint32_t>(parent_ifindex));
  if (mtu > 0) m.putU32(IFLA_MTU, static_cast<uint32_t>(mtu));
  const auto linkinfo = m.nestStart(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "vlan");
  const auto data = m.nestStart(IFLA_INFO_DATA);
  m.putU16(IFLA_VLAN_ID, vid);
  m.nestEnd(data);
  m.nestEnd(linkinfo);
  return m;
}

std::optional<uint16_t> parseVlanId(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWLINK) return std::nullopt;
  std::optional<uint16_t> vid;
  bool is_vlan = false;
  nl::forEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
    if (nl::attrType(a) != IFLA_LINKINFO) return;
    nl::forEachNested(a, [&](const nlattr* info) {
      if (nl::attrType(info) == IFLA_INFO_KIND && nl::attrString(info)) {
        is_vlan = std::strcmp(nl::attrString(info), "vlan") == 0;
      } else if (nl::attrType(info) == IFLA_INFO_DATA) {
        nl::forEachNested(info, [&](const nlattr* d) {
          if (nl::attrType(d) == IFLA_VLAN_ID && nl::attrPayloadLen(d) >= 2) {
            uint16_t v = 0;
            std::memcpy(&v, nl::attrPayload(d), sizeof(v));
            vid = v;
          }
        });
      }
    });
  });
  return is_vlan ? vid : std::nullopt;
}

namespace {

struct VlanLink {
  LinkInfo link;
  std::optional<uint16_t> vid;
};

absl::StatusOr<VlanLink> getVlanLink(NetlinkSocket& sock, const std::string& name) {
  auto m = linkGetMessage(name);
  std::optional<VlanLink> found;
  auto s = sock.request(m, absl::StrCat("get link ", name), [&](const nlmsghdr* nlh) {
    if (auto l = parseLink(nlh)) found = VlanLink{*l, parseVlanId(nlh)};
  });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError(absl::StrCat("get link ", name, ": no answer"));
  return *found;
}

// OK when `v` is the VLAN `vid` of `parent_index`.
absl::Status checkVlan(const VlanLink& v, int parent_index, uint16_t vid) {
  if (v.link.kind != "vlan" || v.link.link != parent_index || v.vid != vid) {
    return absl::FailedPreconditionError(
        absl::StrCat("link ", v.link.name, " exists and is not VLAN ", vid, " of link ",
                     parent_index, " (kind '", v.link.kind, "', lower link ", v.link.link, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> ensureVlanLink(NetlinkSocket& sock, const std::string& parent, uint16_t vid,
                                   int mtu) {
  const std::string name = vlanLinkName(parent, vid);
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("VLAN id ", vid));
  auto parent_index = sock.linkIndex(parent);
  if (!parent_index.ok()) return parent_index.status();
  auto existing = getVlanLink(sock, name);
  if (absl::IsNotFound(existing.status())) {
    auto m = vlanCreateMessage(name, *parent_index, vid, mtu);
    auto s = sock.request(m, absl::StrCat("create VLAN ", name));
    if (s.ok()) return sock.linkIndex(name);
    if (!absl::IsAlreadyExists(s)) return s;
    existing = getVlanLink(sock, name);  // made meanwhile: check it as any existing one
  }
  if (!existing.ok()) return existing.status();
  if (auto s = checkVlan(*existing, *parent_index, vid); !s.ok()) return s;
  if (!existing->link.up || (mtu > 0 && existing->link.mtu != mtu)) {
    if (auto s = Rtnl(sock).setLinkUp(existing->link.index, mtu); !s.ok()) return s;
  }
  return existing->link.index;
}

absl::Status deleteVlanLink(NetlinkSocket& sock, const std::string& parent, uint16_t vid) {
  const std::string name = vlanLinkName(parent, vid);
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("VLAN id ", vid));
  auto existing = getVlanLink(sock, name);
  if (absl::IsNotFound(existing.status())) return absl::OkStatus();
  if (!existing.ok()) return existing.status();
  if (existing->link.kind != "vlan") {
    return absl::FailedPreconditionError(
        absl::StrCat("link ", name, " is not a VLAN (kind '", existing->link.kind, "')"));
  }
  auto s = Rtnl(sock).deleteLink(name);
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

}  // namespace quasar::routing
