// IpamService over a real AddressManager (SQLite in a temporary directory) and a VethReaper
// whose kernel is a fake: what the API accepts, and the order in which it lets go of addresses.

#include "daemon/ipam_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "ipam/sqlite_store.h"
#include "routing/pod_link.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::ipam::v1;

class IpamServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-svc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = ipam::SqliteStore::open(dir_ + "/ipam.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ipam::AddressManager::Options o{{*conf::IpPrefix::parse("10.0.0.0/24")}, {}, 0, nullptr};
    auto m = ipam::AddressManager::create(o, *store_, [] { return int64_t{1'000'000}; });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    reaper_ = std::make_unique<VethReaper>(*manager_);
    service_ = std::make_unique<IpamService>(*manager_, *reaper_, NodeInfo{});
  }
  void TearDown() override {
    service_.reset();
    reaper_.reset();
    manager_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static pb::AllocateRequest allocateRequest(const std::string& cid,
                                             const std::string& ifname = "eth0") {
    pb::AllocateRequest r;
    r.mutable_attachment()->set_container_id(cid);
    r.mutable_attachment()->set_ifname(ifname);
    r.set_network("quasar");
    return r;
  }
  static pb::ReleaseRequest releaseRequest(const std::string& cid, const std::string& host) {
    pb::ReleaseRequest r;
    r.mutable_attachment()->set_container_id(cid);
    r.mutable_attachment()->set_ifname("eth0");
    r.set_host_ifname(host);
    return r;
  }

  std::string dir_;
  std::unique_ptr<ipam::SqliteStore> store_;
  std::unique_ptr<ipam::AddressManager> manager_;
  std::unique_ptr<VethReaper> reaper_;
  std::unique_ptr<IpamService> service_;
};

TEST_F(IpamServiceTest, EveryCallCarryingAnAttachmentChecksItsNames) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"-c1", "eth0"},   {"c1\ninjected=1", "eth0"}, {std::string(300, 'a'), "eth0"},
      {"c1", "../../x"}, {"c1", "eth0:1"},           {"c1", std::string(16, 'e')}};
  for (const auto& [cid, ifname] : bad) {
    pb::AllocateReply a;
    const auto alloc = allocateRequest(cid, ifname);
    EXPECT_EQ(service_->Allocate(nullptr, &alloc, &a).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << cid.size() << " " << ifname;
    pb::ReleaseRequest rel;
    rel.mutable_attachment()->set_container_id(cid);
    rel.mutable_attachment()->set_ifname(ifname);
    pb::ReleaseReply r;
    EXPECT_EQ(service_->Release(nullptr, &rel, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    pb::GetRequest get;
    *get.mutable_attachment() = rel.attachment();
    pb::Allocation g;
    EXPECT_EQ(service_->Get(nullptr, &get, &g).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    pb::GcRequest gc;
    gc.set_network("quasar");
    *gc.add_valid() = rel.attachment();
    pb::GcReply gr;
    EXPECT_EQ(service_->Gc(nullptr, &gc, &gr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_TRUE(manager_->list("").empty());
}

// Release removes the node-side veth it is given: only the one of the attachment released.
TEST_F(IpamServiceTest, ReleaseAcceptsOnlyTheAttachmentsOwnHostVeth) {
  pb::AllocateReply a;
  const auto alloc = allocateRequest("c1");
  ASSERT_TRUE(service_->Allocate(nullptr, &alloc, &a).ok());
  pb::ReleaseReply r;
  const auto wrong = releaseRequest("c1", routing::hostVethName({"c2", "eth0"}));
  EXPECT_EQ(service_->Release(nullptr, &wrong, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const auto qsr_other = releaseRequest("c1", "qsr0123456789a");
  EXPECT_EQ(service_->Release(nullptr, &qsr_other, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(manager_->list("").size(), 1u) << "a refused release releases nothing";
  const auto plain = releaseRequest("c1", "");
  EXPECT_TRUE(service_->Release(nullptr, &plain, &r).ok());
  EXPECT_EQ(r.released_ips_size(), 1);
}

}  // namespace
}  // namespace quasar::daemon
