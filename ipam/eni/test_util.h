#pragma once
// Shared by the ENI unit tests: instances of real types' limits on a fake cloud, pool configs.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ipam/cloud/fake_cloud_provider.h"
#include "ipam/eni/eni_pool.h"

namespace quasar::ipam::eni::testing {

inline conf::IpAddress ip(const std::string& s) { return *conf::IpAddress::parse(s); }
inline conf::IpPrefix prefix(const std::string& s) { return *conf::IpPrefix::parse(s); }

inline cloud::Instance instance(const std::string& type, int enis, int ips_per_eni) {
  cloud::Instance i;
  i.id = "i-0123456789abcdef0";
  i.type = type;
  i.availability_zone = "us-east-1a";
  i.security_groups = {"sg-primary"};
  i.limits = {enis, ips_per_eni};
  return i;
}

inline cloud::Subnet subnet(const std::string& id = "subnet-a",
                            const std::string& cidr = "10.40.0.0/24") {
  return {id, prefix(cidr), "us-east-1a"};
}

// t3.small: 3 ENIs x 4 IPs, 9 pod addresses, 11 pods.
inline std::unique_ptr<cloud::FakeCloudProvider> t3small() {
  return std::make_unique<cloud::FakeCloudProvider>(instance("t3.small", 3, 4), subnet());
}

// Grows only on demand (no warm target) and reuses an address at once, unless a test says so.
inline PoolConfig config(const std::string& node = "node-a") {
  PoolConfig c;
  c.node_name = node;
  c.warm_eni_target = 0;
  c.surplus_cooldown_ms = 60'000;
  c.reuse_cooldown_ms = 0;
  return c;
}

// A pool on a t3small() fake cloud; pool() makes (and starts) it.
class PoolFixture : public ::testing::Test {
 protected:
  void SetUp() override { cloud_ = t3small(); }
  EniPool& pool(PoolConfig c = config()) {
    pool_ = std::make_unique<EniPool>(std::move(c), *cloud_);
    auto s = pool_->start();
    EXPECT_TRUE(s.ok()) << s;
    return *pool_;
  }

  std::unique_ptr<cloud::FakeCloudProvider> cloud_;
  std::unique_ptr<EniPool> pool_;
};

}  // namespace quasar::ipam::eni::testing
