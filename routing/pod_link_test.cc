#include "routing/pod_link.h"

#include <gtest/gtest.h>

#include <set>

namespace quasar::routing {
namespace {

TEST(HostVethName, FitsIfnamsizAndIsStablePerAttachment) {
  const auto a = hostVethName({"4f2c8e1d0b9a", "eth0"});
  EXPECT_EQ(a.size(), 14u);
  EXPECT_EQ(a.rfind(kHostVethPrefix, 0), 0u);
  EXPECT_EQ(a, hostVethName({"4f2c8e1d0b9a", "eth0"}));
  EXPECT_NE(a, hostVethName({"4f2c8e1d0b9a", "net1"}));
  std::set<std::string> names;
  for (int i = 0; i < 10000; ++i) names.insert(hostVethName({std::to_string(i), "eth0"}));
  EXPECT_EQ(names.size(), 10000u);
}

TEST(PodMac, IsLocallyAdministeredUnicastAndStablePerAttachment) {
  auto mac = podMacFor({"4f2c8e1d0b9a", "eth0"});
  EXPECT_EQ(mac[0], 0x0a);
  EXPECT_EQ(mac[1], 0x58);
  EXPECT_EQ(mac[0] & 1, 0);
  EXPECT_EQ(mac[0] & 2, 2);
  EXPECT_EQ(mac, podMacFor({"4f2c8e1d0b9a", "eth0"}));
  EXPECT_NE(mac, podMacFor({"4f2c8e1d0b9b", "eth0"}));
}

}  // namespace
}  // namespace quasar::routing
