#include "netpolicy/masquerade.h"

#include <gtest/gtest.h>

namespace quasar::netpolicy {
namespace {

TEST(Masquerade, ReturnsForClusterDestinationsThenMasqueradesPods) {
  const auto rules = masqueradeRules({*conf::IpPrefix::parse("10.244.0.0/16")});
  EXPECT_EQ(rules.find("*nat\n:QUASAR-MASQ - [0:0]\n-F QUASAR-MASQ\n"), 0u) << rules;
  const auto ret = rules.find("-A QUASAR-MASQ -d 10.244.0.0/16 -j RETURN");
  const auto masq = rules.find("-A QUASAR-MASQ -s 10.244.0.0/16");
  ASSERT_NE(ret, std::string::npos);
  ASSERT_NE(masq, std::string::npos);
  EXPECT_LT(ret, masq) << "pod-to-pod must return before the masquerade rule";
  EXPECT_NE(rules.find("-j MASQUERADE\nCOMMIT\n"), std::string::npos);
  EXPECT_EQ(rules.find("POSTROUTING"), std::string::npos) << "only quasar's own chain";
}

}  // namespace
}  // namespace quasar::netpolicy
