// NetlinkSocket against the real kernel: which namespace a socket answers for, and messages larger
// than a receive buffer. Runs inside a namespace of its own (tests/in-netns.sh); the second
// namespace is unshared by a thread and disappears with its last file descriptor.

#include "routing/netlink_socket.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"
#include "routing/netns.h"
#include "routing/netns_testing.h"
#include "routing/rtnl.h"

namespace quasar::routing {
namespace {

using testing::addAltNames;
using testing::unsharedNamespace;

ino_t inodeOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

TEST(NetlinkSocket, LinkIndexAndNamespaceAreTheSockets) {
  auto here = NetlinkSocket::open();
  ASSERT_TRUE(here.ok()) << here.status();
  auto home = here->openNamespace();
  ASSERT_TRUE(home.ok()) << home.status();
  Fd own(::open("/proc/thread-self/ns/net", O_RDONLY));
  EXPECT_EQ(inodeOf(home->get()), inodeOf(own.get()));

  Fd other = unsharedNamespace();
  ASSERT_TRUE(other.valid());
  auto there = openNetlinkSocketIn(other, *home);
  ASSERT_TRUE(there.ok()) << there.status();
  // Back home after opening it.
  Fd after(::open("/proc/thread-self/ns/net", O_RDONLY));
  EXPECT_EQ(inodeOf(after.get()), inodeOf(own.get()));
  auto there_ns = there->openNamespace();
  ASSERT_TRUE(there_ns.ok()) << there_ns.status();
  EXPECT_EQ(inodeOf(there_ns->get()), inodeOf(other.get()));

  VethSpec veth{"qt-near", {0x0a, 0x58, 0, 0, 0, 1}, 1500,
                "qt-far",  {0x0a, 0x58, 0, 0, 0, 2}, other.get()};
  ASSERT_TRUE(Rtnl(*here).createVeth(veth).ok());
  auto near = Rtnl(*here).getLink("qt-near");
  auto far = Rtnl(*there).getLink("qt-far");
  ASSERT_TRUE(near.ok() && far.ok());

  auto near_idx = here->linkIndex("qt-near");
  ASSERT_TRUE(near_idx.ok()) << near_idx.status();
  EXPECT_EQ(*near_idx, near->index);
  auto far_idx = there->linkIndex("qt-far");
  ASSERT_TRUE(far_idx.ok()) << far_idx.status();
  EXPECT_EQ(*far_idx, far->index);
  // Each socket sees only its own namespace's links.
  EXPECT_TRUE(absl::IsNotFound(here->linkIndex("qt-far").status()));
  EXPECT_TRUE(absl::IsNotFound(there->linkIndex("qt-near").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(here->linkIndex("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(here->linkIndex("a-name-longer-than-ifnamsiz").status()));
  EXPECT_TRUE(Rtnl(*here).deleteLink("qt-near").ok());
}

// A link message larger than any fixed receive buffer (about 40 kB here) arrives whole, both as
// a request's answer and inside a dump, instead of being cut and dropped.
TEST(NetlinkSocket, LargeLinkMessagesArriveWhole) {
  auto sock = NetlinkSocket::open();
  ASSERT_TRUE(sock.ok()) << sock.status();
  auto home = sock->openNamespace();
  ASSERT_TRUE(home.ok()) << home.status();
  Fd other = unsharedNamespace();
  ASSERT_TRUE(other.valid());
  VethSpec veth{"qt-big",  {0x0a, 0x58, 0, 0, 0, 3}, 1500,
                "qt-bigp", {0x0a, 0x58, 0, 0, 0, 4}, other.get()};
  Rtnl rtnl(*sock);
  ASSERT_TRUE(rtnl.createVeth(veth).ok());
  absl::Cleanup remove = [&] { rtnl.deleteLink("qt-big").IgnoreError(); };
  auto index = sock->linkIndex("qt-big");
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(addAltNames(*sock, *index, 300).ok());

  size_t largest = 0;
  NlMessage get(RTM_GETLINK, NLM_F_REQUEST);
  get.putHeader<ifinfomsg>()->ifi_index = *index;
  ASSERT_TRUE(
      sock->request(get, "get link", [&](const nlmsghdr* nlh) { largest = nlh->nlmsg_len; }).ok());
  EXPECT_GT(largest, 32768u) << "the test needs a link message larger than a receive buffer";

  auto link = rtnl.getLink("qt-big");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->index, *index);
  auto links = rtnl.listLinks();
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_TRUE(std::any_of(links->begin(), links->end(), [](const LinkInfo& l) {
    return l.name == "qt-big";
  })) << "the dump lost the large link";
  EXPECT_TRUE(
      std::any_of(links->begin(), links->end(), [](const LinkInfo& l) { return l.name == "lo"; }));
}

}  // namespace
}  // namespace quasar::routing
