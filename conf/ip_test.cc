#include "conf/ip.h"

#include <gtest/gtest.h>

namespace quasar::conf {
namespace {

TEST(IpAddress, ParsesAndPrintsBothFamilies) {
  auto v4 = IpAddress::parse("10.244.1.7");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family(), Family::kV4);
  EXPECT_EQ(v4->toString(), "10.244.1.7");
  EXPECT_EQ(v4->toInt(), absl::uint128(0x0af40107));
  auto v6 = IpAddress::parse("fd00::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family(), Family::kV6);
  EXPECT_EQ(v6->toString(), "fd00::1");
}

TEST(IpAddress, RejectsGarbage) {
  EXPECT_FALSE(IpAddress::parse("10.0.0.256").ok());
  EXPECT_FALSE(IpAddress::parse("").ok());
  EXPECT_FALSE(IpAddress::parse("10.0.0.1/24").ok());
}

TEST(IpAddress, IntRoundTrip) {
  auto a = IpAddress::fromInt(Family::kV6, absl::MakeUint128(0xfd00000000000000ULL, 5));
  EXPECT_EQ(a.toString(), "fd00::5");
  EXPECT_EQ(IpAddress::fromInt(Family::kV4, 0xc0a80001).toString(), "192.168.0.1");
}

TEST(IpPrefix, NetworkContainsAndSize) {
  auto p = IpPrefix::parse("10.244.1.77/24");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->network().toString(), "10.244.1.0/24");
  EXPECT_EQ(p->size(), absl::uint128(256));
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.244.1.255")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("10.244.2.0")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("::1")));
  EXPECT_EQ(p->at(5).toString(), "10.244.1.5");
  EXPECT_EQ(p->offsetOf(*IpAddress::parse("10.244.1.9")), absl::uint128(9));
}

TEST(IpPrefix, Ipv6SizesSaturate) {
  auto p = IpPrefix::parse("fd00::/64");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size(), absl::uint128(1) << 64);
  EXPECT_EQ(IpPrefix::parse("::/0")->size(), absl::uint128(1) << 127);
}

TEST(IpPrefix, Overlaps) {
  EXPECT_TRUE(IpPrefix::parse("10.0.0.0/8")->overlaps(*IpPrefix::parse("10.1.0.0/16")));
  EXPECT_TRUE(IpPrefix::parse("10.1.0.0/16")->overlaps(*IpPrefix::parse("10.0.0.0/8")));
  EXPECT_FALSE(IpPrefix::parse("10.1.0.0/16")->overlaps(*IpPrefix::parse("10.2.0.0/16")));
}

TEST(IpPrefix, RejectsBadLength) {
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/33").ok());
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0").ok());
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/x").ok());
}

}  // namespace
}  // namespace quasar::conf
