// FloatingIps::removeStaleUnderlay on the real kernel (label netns: runs in a namespace of its
// own through tests/in-netns.sh): what a crash, a missed DEL or a move left on the node goes;
// what this node's pods use, operators' entries and addresses of no pool stay.

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "daemon/api/floating_ips.h"
#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"
#include "routing/macvlan.h"
#include "routing/netlink_socket.h"
#include "routing/proxy_neighbour.h"
#include "routing/rtnl.h"

namespace quasar::daemon {
namespace {

namespace fl = ipam::floating;
using fl::testing::ip;

class FloatingUnderlayTest : public ::testing::Test {
 protected:
  FloatingUnderlayTest()
      : alloc_(store_, {}),
        source_(alloc_, [] { return fl::testing::node("n1"); }),
        api_(source_, "up0", nullptr) {
    alloc_.setPools({fl::testing::pool("pool-a", 0, 100, 120)});  // 10.20.0.0/24
  }
  void SetUp() override {
    ASSERT_NE(getenv("QUASAR_TEST_NETNS"), nullptr) << "run through tests/in-netns.sh";
    ASSERT_EQ(std::system("ip link add up0 type veth peer name up0p && ip link set up0 up && "
                          "ip link set up0p up"),
              0);
    auto sock = routing::NetlinkSocket::open();
    ASSERT_TRUE(sock.ok()) << sock.status();
    sock_.emplace(std::move(*sock));
    auto up0 = sock_->linkIndex("up0");
    ASSERT_TRUE(up0.ok()) << up0.status();
    up0_ = *up0;
  }
  void TearDown() override { std::system("ip link del up0 2>/dev/null"); }

  std::set<std::string> proxies() {
    std::set<std::string> out;
    auto list = routing::listProxyNeighbours(*sock_, conf::Family::kV4, up0_);
    EXPECT_TRUE(list.ok()) << list.status();
    if (list.ok()) {
      for (const auto& n : *list) out.insert(n.dst->toString());
    }
    return out;
  }
  std::set<std::string> legRoutes(int leg) {
    std::set<std::string> out;
    routing::Rtnl rtnl(*sock_);
    auto routes = rtnl.listRoutes(conf::Family::kV4);
    EXPECT_TRUE(routes.ok()) << routes.status();
    if (routes.ok()) {
      for (const auto& r : *routes) {
        if (r.oif == leg) out.insert(r.dst.address().toString());
      }
    }
    return out;
  }

  fl::MemoryLeaseStore store_;
  fl::FloatingAllocator alloc_;
  fl::FloatingSource source_;
  FloatingIps api_;
  std::optional<routing::NetlinkSocket> sock_;
  int up0_ = 0;
};

TEST_F(FloatingUnderlayTest, RemovesOnlyQuasarsEntriesForPoolAddressesNotHeldHere) {
  for (const char* a : {"10.20.0.100", "10.20.0.101", "10.30.0.5"}) {
    ASSERT_TRUE(routing::addProxyNeighbour(*sock_, up0_, ip(a)).ok());
  }
  // An operator's entry (no protocol): never quasar's to remove.
  ASSERT_EQ(std::system("ip neigh add proxy 10.20.0.102 dev up0"), 0);
  auto leg = routing::ensureMacvlanLeg(*sock_, "up0");
  ASSERT_TRUE(leg.ok()) << leg.status();
  ASSERT_TRUE(routing::addMacvlanLegRoute(*sock_, *leg, ip("10.20.0.103")).ok());
  ASSERT_TRUE(routing::addMacvlanLegRoute(*sock_, *leg, ip("10.20.0.104")).ok());
  ASSERT_EQ(proxies(),
            (std::set<std::string>{"10.20.0.100", "10.20.0.101", "10.20.0.102", "10.30.0.5"}));

  int asked = 0;
  auto mine = [&]() -> absl::StatusOr<std::set<conf::IpAddress>> {
    ++asked;
    return std::set<conf::IpAddress>{ip("10.20.0.100"), ip("10.20.0.104")};
  };
  auto removed = api_.removeStaleUnderlay(mine);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);  // proxy 10.20.0.101, leg route 10.20.0.103
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(proxies(), (std::set<std::string>{"10.20.0.100", "10.20.0.102", "10.30.0.5"}));
  EXPECT_EQ(legRoutes(*leg), (std::set<std::string>{"10.20.0.104"}));

  removed = api_.removeStaleUnderlay(mine);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
}

TEST_F(FloatingUnderlayTest, NothingIsRemovedWhenWhatIsHeldCannotBeRead) {
  ASSERT_TRUE(routing::addProxyNeighbour(*sock_, up0_, ip("10.20.0.101")).ok());
  auto removed = api_.removeStaleUnderlay(
      []() -> absl::StatusOr<std::set<conf::IpAddress>> {
        return absl::UnavailableError("datastore down");
      });
  EXPECT_FALSE(removed.ok());
  EXPECT_EQ(proxies(), (std::set<std::string>{"10.20.0.101"}));
}

}  // namespace
}  // namespace quasar::daemon
