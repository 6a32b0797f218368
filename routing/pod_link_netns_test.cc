// deletePodLinks against the real kernel. Runs inside a namespace of its own
// (tests/in-netns.sh); the pods' namespace is unshared by a thread and disappears with its last
// file descriptor.

#include <fcntl.h>
#include <sched.h>

#include <thread>

#include "gtest/gtest.h"
#include "routing/netlink_socket.h"
#include "routing/netns_testing.h"
#include "routing/pod_link.h"
#include "routing/rtnl.h"

namespace quasar::routing {
namespace {

using testing::unsharedNamespace;

TEST(DeletePodLinks, RemovesTheNamedPairsTogetherAndNothingElse) {
  auto node = NetlinkSocket::open();
  ASSERT_TRUE(node.ok()) << node.status();
  auto home = node->openNamespace();
  ASSERT_TRUE(home.ok()) << home.status();
  Fd pods = unsharedNamespace();
  ASSERT_TRUE(pods.valid());
  auto pod_sock = openNetlinkSocketIn(pods, *home);
  ASSERT_TRUE(pod_sock.ok()) << pod_sock.status();

  const conf::Mac mac{0x0a, 0x58, 0, 0, 0, 1};
  for (const std::string n : {"qsrt1", "qsrt2", "qsrt3"}) {
    ASSERT_TRUE(Rtnl(*node).createVeth({n, mac, 1500, n + "-pod", mac, pods.get()}).ok()) << n;
  }
  // An operator's links in a group of their own stay.
  ASSERT_TRUE(Rtnl(*node).createVeth({"opr0", mac, 1500, "opr1", mac, home->get()}).ok());
  for (const std::string n : {"opr0", "opr1"}) {
    auto m = linkGroupMessage(n, 5);
    ASSERT_TRUE(node->request(m, "set group").ok()) << n;
  }

  EXPECT_TRUE(deletePodLinks({}).empty());
  const auto results = deletePodLinks({"qsrt1", "qsrt-gone", "qsrt2"});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;

  for (const std::string n : {"qsrt1", "qsrt2"}) {
    EXPECT_TRUE(absl::IsNotFound(node->linkIndex(n).status())) << n;
    EXPECT_TRUE(absl::IsNotFound(pod_sock->linkIndex(n + "-pod").status())) << n;
  }
  EXPECT_TRUE(node->linkIndex("qsrt3").ok());
  EXPECT_TRUE(pod_sock->linkIndex("qsrt3-pod").ok());
  EXPECT_TRUE(node->linkIndex("opr0").ok());
  EXPECT_TRUE(node->linkIndex("opr1").ok());
  // Nothing is left in the group.
  auto del = groupDeleteMessage(kDoomedLinkGroup);
  EXPECT_TRUE(absl::IsNotFound(node->request(del, "delete group")));

  // All names gone: nothing to delete, every result is still a success.
  for (const auto& s : deletePodLinks({"qsrt1", "qsrt2"})) EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(Rtnl(*node).deleteLink("qsrt3").ok());
  EXPECT_TRUE(Rtnl(*node).deleteLink("opr0").ok());
}

TEST(DeletePodLinks, MoreThanOneGroupsWorthAllGo) {
  auto node = NetlinkSocket::open();
  ASSERT_TRUE(node.ok()) << node.status();
  Fd pods = unsharedNamespace();
  ASSERT_TRUE(pods.valid());
  const conf::Mac mac{0x0a, 0x58, 0, 0, 0, 1};
  std::vector<std::string> names;
  for (size_t i = 0; i < 2 * kMaxLinksPerGroupDelete + 1; ++i) {
    names.push_back("qsrm" + std::to_string(i));
    ASSERT_TRUE(Rtnl(*node)
                    .createVeth({names.back(), mac, 1500, "p" + std::to_string(i), mac, pods.get()})
                    .ok())
        << names.back();
  }
  const auto results = deletePodLinks(names);
  ASSERT_EQ(results.size(), names.size());
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
  for (const auto& n : names) EXPECT_TRUE(absl::IsNotFound(node->linkIndex(n).status())) << n;
}

// The reaper deletes what was released: a pair made later under the same name stays.
TEST(DeletePodLinksByIndex, LeavesANewerPairUnderTheSameName) {
  auto node = NetlinkSocket::open();
  ASSERT_TRUE(node.ok()) << node.status();
  Fd pods = unsharedNamespace();
  ASSERT_TRUE(pods.valid());
  const conf::Mac mac{0x0a, 0x58, 0, 0, 0, 1};
  ASSERT_TRUE(Rtnl(*node).createVeth({"qsri0", mac, 1500, "old0", mac, pods.get()}).ok());
  auto old_index = hostVethIndex("qsri0");
  ASSERT_TRUE(old_index.ok()) << old_index.status();
  ASSERT_TRUE(Rtnl(*node).deleteLink("qsri0").ok());
  ASSERT_TRUE(Rtnl(*node).createVeth({"qsri0", mac, 1500, "new0", mac, pods.get()}).ok());
  auto new_index = hostVethIndex("qsri0");
  ASSERT_TRUE(new_index.ok()) << new_index.status();
  ASSERT_NE(*old_index, *new_index);
  ASSERT_TRUE(Rtnl(*node).createVeth({"qsri1", mac, 1500, "other1", mac, pods.get()}).ok());
  auto other = hostVethIndex("qsri1");
  ASSERT_TRUE(other.ok()) << other.status();

  const auto results = deletePodLinksByIndex({*old_index, *other});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(node->linkIndex("qsri0").value_or(-1), *new_index) << "the newer pair was deleted";
  EXPECT_TRUE(absl::IsNotFound(node->linkIndex("qsri1").status()));
  EXPECT_TRUE(absl::IsNotFound(hostVethIndex("qsri1").status()));

  auto listed = listHostVethLinks();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "qsri0");
  EXPECT_EQ((*listed)[0].index, *new_index);
  EXPECT_TRUE(Rtnl(*node).deleteLink("qsri0").ok());
}

}  // namespace
}  // namespace quasar::routing
