// RouteMonitor against the real kernel, inside a namespace of its own (tests/in-netns.sh): what
// wakes it and what the kernel filters out before it does.

#include "routing/route_monitor.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "routing/netns_testing.h"
#include "routing/netlink_socket.h"
#include "routing/pod_link.h"
#include "routing/policy_rule.h"
#include "routing/rtnl.h"

namespace quasar::routing {
namespace {

using namespace std::chrono_literals;

using testing::addAltNames;
using testing::unsharedNamespace;

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(10ms);
  return pred();
}

TEST(RouteMonitor, PodChurnDoesNotWakeItAndItsDevicesDo) {
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.ok()) << sock.status();
  auto home = sock->openNamespace();
  ASSERT_TRUE(home.ok()) << home.status();
  Rtnl rtnl(*sock);
  const conf::Mac mac{0x0a, 0x58, 0, 0, 0, 1};
  ASSERT_TRUE(rtnl.createVeth({"qtup0", mac, 1500, "qtup1", mac, home->get()}).ok());
  auto uplink = sock->linkIndex("qtup0");
  ASSERT_TRUE(uplink.ok());

  std::atomic<int> changes{0};
  auto monitor = RouteMonitor::start({"qtup0"}, [&changes] { ++changes; });
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  // The kernel reports qtup0's carrier asynchronously (link watch, within a second): let that
  // arrive before counting.
  std::this_thread::sleep_for(1500ms);
  const uint64_t baseline = (*monitor)->received();

  // What every pod ADD and DEL does on the node: veths made, a /32 route each, veths deleted.
  Fd pods = unsharedNamespace();
  ASSERT_TRUE(pods.valid());
  for (int i = 0; i < 5; ++i) {
    const std::string name = "qsrt" + std::to_string(i);
    ASSERT_TRUE(rtnl.createVeth({name, mac, 1500, "eth" + std::to_string(i), mac, pods.get()}).ok());
    auto index = sock->linkIndex(name);
    ASSERT_TRUE(index.ok());
    Route r{.dst = *conf::IpPrefix::parse("10.99.1." + std::to_string(i + 1) + "/32"),
            .gateway = std::nullopt,
            .ifindex = *index,
            .scope = RT_SCOPE_LINK};
    ASSERT_TRUE(rtnl.addRoute(r).ok()) << name;
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rtnl.deleteLink("qsrt" + std::to_string(i)).ok());
  // A marker after the churn: one node route added (dropped like every new route) and deleted
  // (exactly one notification, a change). Notifications arrive in order, so once the marker's
  // change is seen, any of the churn's that got through would have been received before it.
  Route marker{.dst = *conf::IpPrefix::parse("10.99.3.0/24"),
               .gateway = std::nullopt,
               .ifindex = *uplink,
               .scope = RT_SCOPE_LINK,
               .protocol = kNodeRouteProtocol};
  ASSERT_TRUE(rtnl.addRoute(marker).ok());
  RouteInfo marker_info;
  marker_info.dst = marker.dst;
  marker_info.oif = *uplink;
  marker_info.protocol = kNodeRouteProtocol;
  marker_info.type = RTN_UNICAST;
  marker_info.table = 254;
  ASSERT_TRUE(rtnl.deleteRoute(marker_info).ok());
  ASSERT_TRUE(eventually([&] { return changes == 1; }));
  EXPECT_EQ((*monitor)->received(), baseline + 1) << "pod churn reached the monitor's thread";
  changes = 0;

  // Other links still reach it (and do not count as a change).
  ASSERT_TRUE(rtnl.createVeth({"other0", mac, 1500, "other1", mac, home->get()}).ok());
  EXPECT_TRUE(eventually([&] { return (*monitor)->received() > baseline; }));
  EXPECT_EQ(changes, 0);

  // A node route (protocol 114) deleted: a change.
  Route node_route{.dst = *conf::IpPrefix::parse("10.99.2.0/24"),
                   .gateway = std::nullopt,
                   .ifindex = *uplink,
                   .scope = RT_SCOPE_LINK,
                   .protocol = kNodeRouteProtocol};
  ASSERT_TRUE(rtnl.addRoute(node_route).ok());
  auto routes = rtnl.listRoutes(conf::Family::kV4);
  ASSERT_TRUE(routes.ok());
  for (const auto& r : *routes) {
    if (r.protocol == kNodeRouteProtocol) {
      ASSERT_TRUE(rtnl.deleteRoute(r).ok());
    }
  }
  EXPECT_TRUE(eventually([&] { return changes >= 1; }));

  // A watched device going down: a change.
  const int before = changes;
  auto down = linkSetMessage({.ifindex = *uplink, .up = false});
  ASSERT_TRUE(sock->request(down, "set qtup0 down").ok());
  EXPECT_TRUE(eventually([&] { return changes > before; }));

  for (const std::string n : {"qsrt3", "qsrt4", "other0", "qtup0"}) {
    EXPECT_TRUE(rtnl.deleteLink(n).ok()) << n;
  }
}

// The ENI rules' tampering is repaired at once too: deleting one of quasar's rules (protocol 114)
// is a change, deleting someone else's is not.
TEST(RouteMonitor, DeletingOneOfQuasarsRulesIsAChange) {
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.ok()) << sock.status();
  std::atomic<int> changes{0};
  auto monitor = RouteMonitor::start({}, [&changes] { ++changes; });
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  Rule theirs{.priority = 20150, .src = *conf::IpPrefix::parse("10.99.5.1/32"), .protocol = 0};
  Rule ours{.priority = 20100, .dst = *conf::IpPrefix::parse("10.99.5.2/32")};
  ASSERT_TRUE(addRule(*sock, theirs).ok());
  ASSERT_TRUE(addRule(*sock, ours).ok());
  ASSERT_TRUE(deleteRule(*sock, theirs).ok());
  // A marker after the foreign deletion: once its change is seen, the foreign one was read.
  ASSERT_TRUE(deleteRule(*sock, ours).ok());
  EXPECT_TRUE(eventually([&] { return changes >= 1; }));
  EXPECT_EQ(changes, 1) << "another program's rule woke the agent";
}

// A notification larger than the monitor's receive buffer (a watched device with 300 altnames
// going down) still counts, instead of being cut and dropped.
TEST(RouteMonitor, ALargeNotificationAboutItsDeviceIsAChange) {
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.ok()) << sock.status();
  Fd other = unsharedNamespace();
  ASSERT_TRUE(other.valid());
  Rtnl rtnl(*sock);
  const conf::Mac mac{0x0a, 0x58, 0, 0, 0, 2};
  ASSERT_TRUE(rtnl.createVeth({"qtbig0", mac, 1500, "qtbig1", mac, other.get()}).ok());
  auto index = sock->linkIndex("qtbig0");
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(addAltNames(*sock, *index, 300).ok());
  auto up = linkSetMessage({.ifindex = *index, .up = true});
  ASSERT_TRUE(sock->request(up, "set qtbig0 up").ok());

  std::atomic<int> changes{0};
  auto monitor = RouteMonitor::start({"qtbig0"}, [&changes] { ++changes; });
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  const int before = changes;
  auto down = linkSetMessage({.ifindex = *index, .up = false});
  ASSERT_TRUE(sock->request(down, "set qtbig0 down").ok());
  EXPECT_TRUE(eventually([&] { return changes > before; }));
  EXPECT_TRUE(rtnl.deleteLink("qtbig0").ok());
}

}  // namespace
}  // namespace quasar::routing
