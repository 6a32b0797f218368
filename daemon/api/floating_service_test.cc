#include "daemon/api/floating_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;
namespace fl = ipam::floating;
using ::testing::HasSubstr;

class FloatingServiceTest : public ::testing::Test {
 protected:
  FloatingServiceTest()
      : alloc_(store_, {.cooldown_ms = 5000}), service_(alloc_, [this] { return now_; }) {
    auto a = fl::testing::pool("pool-a", 0, 100, 102);
    a.max_allocated = 2;
    alloc_.setPools({a, fl::testing::pool("pool-b", 1, 100, 109)});
  }

  absl::Status reserve(const std::string& ip, const std::string& pool,
                       const std::string& workload = "", pb::FloatingLease* out = nullptr) {
    pb::ReserveFloatingIpRequest req;
    req.set_ip(ip);
    req.set_pool(pool);
    req.set_workload(workload);
    pb::FloatingLease ignored;
    return service_.reserve(req, out ? out : &ignored);
  }
  absl::Status release(const std::string& ip) {
    pb::ReleaseFloatingIpRequest req;
    req.set_ip(ip);
    return service_.release(req);
  }
  pb::FloatingLeasesReply list() {
    pb::FloatingLeasesReply reply;
    EXPECT_TRUE(service_.list({}, &reply).ok());
    return reply;
  }

  fl::MemoryLeaseStore store_;
  fl::FloatingAllocator alloc_;
  int64_t now_ = 1000;
  FloatingService service_;
};

TEST_F(FloatingServiceTest, ListsBoundLeaseWithHolderPolicyAndSince) {
  auto w = fl::testing::workload(fl::WorkloadKind::kStatefulSet, "db");
  auto claim = alloc_.claim(fl::testing::request(w, "db-0", "u0", fl::ReleasePolicy::kImmutable,
                                                 fl::testing::node("n1"), 777));
  ASSERT_TRUE(claim.ok()) << claim.status();

  const auto reply = list();
  ASSERT_EQ(reply.leases_size(), 1);
  const auto& l = reply.leases(0);
  EXPECT_EQ(l.ip(), "10.20.0.100");
  EXPECT_EQ(l.pool(), "pool-a");
  EXPECT_EQ(l.state(), "bound");
  EXPECT_EQ(l.policy(), "immutable");
  EXPECT_EQ(l.workload().kind(), "StatefulSet");
  EXPECT_EQ(l.workload().namespace_(), "default");
  EXPECT_EQ(l.workload().name(), "db");
  EXPECT_EQ(l.pod().name(), "db-0");
  EXPECT_EQ(l.node(), "n1");
  EXPECT_EQ(l.attachment().container_id(), "c-u0");
  EXPECT_EQ(l.since_unix_ms(), 777);
  EXPECT_EQ(l.holder(), "pod default/db-0 on node n1");

  ASSERT_EQ(reply.pools_size(), 2);
  EXPECT_EQ(reply.pools(0).name(), "pool-a");
  EXPECT_EQ(reply.pools(0).capacity(), 3u);
  EXPECT_EQ(reply.pools(0).in_use(), 1);
  EXPECT_EQ(reply.pools(0).bound(), 1);
  EXPECT_EQ(reply.pools(0).max_allocated(), 2);
  EXPECT_EQ(reply.pools(1).name(), "pool-b");
  EXPECT_EQ(reply.pools(1).in_use(), 0);
  EXPECT_EQ(reply.pools(1).max_allocated(), -1);
}

TEST_F(FloatingServiceTest, ShowsOneAddressOrNotFound) {
  ASSERT_TRUE(reserve("10.20.1.105", "pool-b").ok());
  pb::FloatingLeasesRequest req;
  req.set_ip("10.20.1.105");
  pb::FloatingLeasesReply reply;
  ASSERT_TRUE(service_.list(req, &reply).ok());
  ASSERT_EQ(reply.leases_size(), 1);
  EXPECT_EQ(reply.leases(0).state(), "reserved");
  EXPECT_TRUE(reply.leases(0).operator_reserved());

  req.set_ip("10.20.1.106");
  EXPECT_TRUE(absl::IsNotFound(service_.list(req, &reply)));
  req.set_ip("10.20.1");
  EXPECT_TRUE(absl::IsInvalidArgument(service_.list(req, &reply)));
}

TEST_F(FloatingServiceTest, ReservesForWorkloadThenReleases) {
  now_ = 2000;
  pb::FloatingLease lease;
  ASSERT_TRUE(reserve("10.20.1.107", "pool-b", "Deployment/shop/web", &lease).ok());
  EXPECT_EQ(lease.state(), "reserved");
  EXPECT_EQ(lease.workload().kind(), "Deployment");
  EXPECT_EQ(lease.workload().namespace_(), "shop");
  EXPECT_EQ(lease.workload().name(), "web");
  EXPECT_EQ(lease.since_unix_ms(), 2000);
  EXPECT_EQ(lease.holder(), "a reservation for Deployment shop/web");
  // Idempotent.
  EXPECT_TRUE(reserve("10.20.1.107", "pool-b", "Deployment/shop/web").ok());
  // The operator's word: reserving again for another workload moves the reservation.
  ASSERT_TRUE(reserve("10.20.1.107", "pool-b", "StatefulSet/shop/db", &lease).ok());
  EXPECT_EQ(lease.holder(), "a reservation for StatefulSet shop/db");

  ASSERT_TRUE(release("10.20.1.107").ok());
  const auto after = list();
  for (const auto& l : after.leases()) EXPECT_NE(l.state(), "reserved") << l.ip();
  EXPECT_TRUE(absl::IsNotFound(release("10.20.1.107")));
}

TEST_F(FloatingServiceTest, AllocatorErrorsPassThrough) {
  EXPECT_TRUE(absl::IsNotFound(reserve("10.20.1.105", "no-such-pool")));
  auto outside = reserve("10.20.1.200", "pool-b");
  EXPECT_TRUE(absl::IsInvalidArgument(outside)) << outside;
  EXPECT_TRUE(absl::IsNotFound(release("10.20.1.105")));
  auto claim = alloc_.claim(
      fl::testing::barePod("p", "u1", fl::ReleasePolicy::kRelease, fl::testing::node("n1")));
  ASSERT_TRUE(claim.ok()) << claim.status();
  auto taken = reserve(claim->lease.ip.toString(), "pool-a", "Deployment/shop/web");
  EXPECT_TRUE(absl::IsAlreadyExists(taken)) << taken;
  EXPECT_THAT(std::string(taken.message()), HasSubstr("pod default/p on node n1"));
  store_.set_unavailable(true);
  pb::FloatingLeasesReply reply;
  EXPECT_TRUE(absl::IsUnavailable(service_.list({}, &reply)));
}

TEST_F(FloatingServiceTest, RefusesMalformedInput) {
  struct Case {
    std::string ip, pool, workload, want;
  };
  const std::vector<Case> cases = {
      {"", "pool-b", "", "ip: required"},
      {"10.20.1.300", "pool-b", "", "not an IP address"},
      {"10.20.1.105; rm", "pool-b", "", "not an IP address"},
      {"10.20.1.105", "", "", "pool: required"},
      {"10.20.1.105", "Pool_B", "", "not a DNS-1123 subdomain"},
      {"10.20.1.105", "pool-b", "Deployment/shop", "want Kind/namespace/name"},
      {"10.20.1.105", "pool-b", "Deployment/shop/web/x", "want Kind/namespace/name"},
      {"10.20.1.105", "pool-b", "DaemonSet/shop/web", "want StatefulSet, Deployment"},
      {"10.20.1.105", "pool-b", "Deployment/Shop/web", "namespace \"Shop\""},
      {"10.20.1.105", "pool-b", "Deployment/shop/web.v2", "name \"web.v2\""},
      {"10.20.1.105", "pool-b", "Deployment//web", "is not a DNS-1123 label"},
  };
  for (const auto& c : cases) {
    auto s = reserve(c.ip, c.pool, c.workload);
    EXPECT_TRUE(absl::IsInvalidArgument(s))
        << c.ip << " " << c.pool << " " << c.workload << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(release("")));
  EXPECT_TRUE(absl::IsInvalidArgument(release("fe80::zz")));
  EXPECT_TRUE(list().leases().empty());
}

}  // namespace
}  // namespace quasar::daemon
