// The legacy filter digest's walk over an entries blob, on blobs built here: counters do not
// count, rules do, and a blob that does not walk is an error.

#include "netpolicy/kernel/legacy_filter_digest.h"

#include <gtest/gtest.h>
#include <netinet/in.h>  // before the kernel's headers
// clang-format off
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on

#include <cstring>
#include <vector>

namespace quasar::netpolicy {
namespace {

// A blob of `n` minimal IPv4 entries (header and a 8-byte target each); entry i's source address
// is `src + i`, its counters `packets`.
std::vector<uint8_t> v4Blob(int n, uint32_t src, uint64_t packets) {
  constexpr size_t kEntry = sizeof(ipt_entry) + 8;
  std::vector<uint8_t> blob(n * kEntry, 0);
  for (int i = 0; i < n; ++i) {
    auto* e = reinterpret_cast<ipt_entry*>(blob.data() + i * kEntry);
    e->ip.src.s_addr = src + i;
    e->target_offset = sizeof(ipt_entry);
    e->next_offset = kEntry;
    e->counters.pcnt = packets + i;
    e->counters.bcnt = 1500 * (packets + i);
  }
  return blob;
}

uint64_t digest(conf::Family family, std::vector<uint8_t> blob) {
  auto d = digestLegacyEntries(family, blob);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : 0;
}

TEST(LegacyFilterDigest, TrafficDoesNotMoveItARuleDoes) {
  const uint64_t base = digest(conf::Family::kV4, v4Blob(3, 0x0a000001, 0));
  EXPECT_EQ(digest(conf::Family::kV4, v4Blob(3, 0x0a000001, 12345)), base);
  EXPECT_NE(digest(conf::Family::kV4, v4Blob(3, 0x0a000002, 0)), base) << "a rule changed";
  EXPECT_NE(digest(conf::Family::kV4, v4Blob(2, 0x0a000001, 0)), base) << "a rule deleted";
  EXPECT_NE(digest(conf::Family::kV4, v4Blob(4, 0x0a000001, 0)), base) << "a rule added";
}

TEST(LegacyFilterDigest, ZeroesTheCountersOfEveryEntryIncludingIPv6) {
  constexpr size_t kEntry = sizeof(ip6t_entry) + 8;
  std::vector<uint8_t> a(2 * kEntry, 0), b;
  for (int i = 0; i < 2; ++i) {
    auto* e = reinterpret_cast<ip6t_entry*>(a.data() + i * kEntry);
    e->target_offset = sizeof(ip6t_entry);
    e->next_offset = kEntry;
  }
  b = a;
  reinterpret_cast<ip6t_entry*>(b.data() + kEntry)->counters.pcnt = 7;
  EXPECT_EQ(digest(conf::Family::kV6, a), digest(conf::Family::kV6, b));
  reinterpret_cast<ip6t_entry*>(b.data() + kEntry)->ipv6.proto = 6;
  EXPECT_NE(digest(conf::Family::kV6, a), digest(conf::Family::kV6, b));
}

TEST(LegacyFilterDigest, ABlobThatDoesNotWalkIsDataLoss) {
  auto blob = v4Blob(2, 1, 0);
  reinterpret_cast<ipt_entry*>(blob.data())->next_offset = 0;
  EXPECT_TRUE(absl::IsDataLoss(digestLegacyEntries(conf::Family::kV4, blob).status()));
  blob = v4Blob(2, 1, 0);
  reinterpret_cast<ipt_entry*>(blob.data())->next_offset = 60000;
  EXPECT_TRUE(absl::IsDataLoss(digestLegacyEntries(conf::Family::kV4, blob).status()));
  blob = v4Blob(2, 1, 0);
  blob.resize(blob.size() - 4);  // the last entry cut short
  EXPECT_TRUE(absl::IsDataLoss(digestLegacyEntries(conf::Family::kV4, blob).status()));
}

}  // namespace
}  // namespace quasar::netpolicy
