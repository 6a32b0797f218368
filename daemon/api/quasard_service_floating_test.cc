// QuasardService's ADD on a node that serves floating IPs, when the pod's annotations cannot be
// read: a real AddressManager (SQLite in a temporary directory) with the floating source over an
// in-memory lease store, a PodLookup with canned answers, and no kernel (the reaper's links are
// a stub that holds nothing).

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "daemon/api/floating_ips.h"
#include "daemon/api/quasard_service.h"
#include "daemon/store/sqlite_allocation_store.h"
#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;
namespace fl = ipam::floating;

class NoLinks final : public VethLinks {
 public:
  absl::StatusOr<int> index(const std::string& name) override { return absl::NotFoundError(name); }
  absl::StatusOr<std::vector<routing::HostVeth>> list() override {
    return std::vector<routing::HostVeth>();
  }
  std::vector<absl::Status> remove(const std::vector<int>& indexes) override {
    return std::vector<absl::Status>(indexes.size());
  }
};

// Canned answers: a pod by "namespace/name", or Unavailable for every pod while `reachable` is
// false.
class CannedPods final : public PodLookup {
 public:
  absl::StatusOr<std::optional<PodFacts>> find(const std::string& ns, const std::string& name,
                                               const std::string&,
                                               std::chrono::milliseconds) override {
    if (!reachable) return absl::UnavailableError("connection refused");
    auto it = pods.find(ns + "/" + name);
    if (it == pods.end()) return std::optional<PodFacts>();
    return std::optional<PodFacts>(it->second);
  }
  std::map<std::string, PodFacts> pods;
  bool reachable = true;
};

class FloatingAddTest : public ::testing::Test {
 protected:
  FloatingAddTest()
      : allocator_(leases_, {.cooldown_ms = 0}),
        source_(allocator_, [] { return fl::testing::node("n1"); }),
        floating_(source_, "",
                  [this](const ipam::PodRef&, const objects::Pod* known) -> fl::WorkloadRef {
                    // As quasard's resolver does with the pod's owner chain: a pod the lookup
                    // found is taken as it was found.
                    if (!known) return {};
                    resolved_from_ = known->metadata.name;
                    return {fl::WorkloadKind::kStatefulSet, known->metadata.namespace_, "web",
                            "uid-web"};
                  }) {}

  void SetUp() override {
    char tmpl[] = "/tmp/quasar-svc-fip-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = SqliteAllocationStore::open(dir_ + "/ipam.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ipam::AddressManager::Options o{{*conf::IpPrefix::parse("10.0.0.0/24")}, {}, 0, nullptr};
    o.sources[fl::FloatingSource::kName] = &source_;
    auto m = ipam::AddressManager::create(o, *store_, [] { return int64_t{1'000'000}; });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    reaper_ = std::make_unique<VethReaper>(*manager_, std::make_unique<NoLinks>());
    service_ = std::make_unique<QuasardService>(*manager_, *reaper_, NodeInfo{});
    service_->setPodLookup(&pods_, std::chrono::milliseconds(100));
    service_->setFloatingIps(&floating_);
    auto web0 = std::make_shared<objects::Pod>();
    web0->metadata.namespace_ = "ml";
    web0->metadata.name = "web-0";
    web0->metadata.uid = "uid-web-0";
    pods_.pods["ml/web-0"] =
        PodFacts{"uid-web-0", {}, {{"quasar.io/floating-ip", "true"}}, "direct", web0};
  }
  void TearDown() override {
    service_.reset();
    reaper_.reset();
    manager_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  grpc::Status add(const std::string& cid, const std::string& pod, pb::AllocateReply* reply) {
    pb::AllocateRequest r;
    r.mutable_attachment()->set_container_id(cid);
    r.mutable_attachment()->set_ifname("eth0");
    r.set_network("quasar");
    r.mutable_pod()->set_namespace_("ml");
    r.mutable_pod()->set_name(pod);
    return service_->Allocate(nullptr, &r, reply);
  }
  int allocations() {
    pb::ListReply list;
    const pb::ListRequest all;
    EXPECT_TRUE(service_->List(nullptr, &all, &list).ok());
    return list.allocations_size();
  }

  fl::MemoryLeaseStore leases_;
  fl::FloatingAllocator allocator_;
  fl::FloatingSource source_;
  std::string resolved_from_;  // the pod object the resolver was given
  FloatingIps floating_;
  CannedPods pods_;
  std::string dir_;
  std::unique_ptr<SqliteAllocationStore> store_;
  std::unique_ptr<ipam::AddressManager> manager_;
  std::unique_ptr<VethReaper> reaper_;
  std::unique_ptr<QuasardService> service_;
};

TEST_F(FloatingAddTest, UnreadableAnnotationsWithPoolsAskToRetryAndHoldNothing) {
  allocator_.setPools({fl::testing::pool("a", 0, 100, 101)});
  pods_.reachable = false;
  pb::AllocateReply reply;
  const auto s = add("c1", "web-0", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("pod ml/web-0"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("connection refused"), std::string::npos);
  EXPECT_EQ(allocations(), 0);
  EXPECT_TRUE(allocator_.list().value().empty());

  // Once the source answers, the same ADD gets the pod's floating address.
  pods_.reachable = true;
  const auto retried = add("c1", "web-0", &reply);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(reply.allocation().source(), fl::FloatingSource::kName);
  EXPECT_EQ(reply.allocation().ips(0), "10.20.0.100/32");
}

TEST_F(FloatingAddTest, UnreadableAnnotationsWithoutPoolsStillGetAPodCidrAddress) {
  pods_.reachable = false;
  pb::AllocateReply reply;
  const auto s = add("c1", "web-0", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.allocation().source(), "");
  EXPECT_EQ(reply.allocation().ips(0).rfind("10.0.0.", 0), 0u) << reply.allocation().ips(0);
  EXPECT_EQ(reply.allocation().pod_lookup().rfind("unavailable: ", 0), 0u);
}

// The pod as the lookup found it (here straight from the source, newer than the view) is what
// its workload is resolved from: its lease is the StatefulSet's, not the pod's own.
TEST_F(FloatingAddTest, TheWorkloadIsResolvedFromThePodTheLookupFound) {
  allocator_.setPools({fl::testing::pool("a", 0, 100, 101)});
  pb::AllocateReply reply;
  const auto s = add("c1", "web-0", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resolved_from_, "web-0");
  auto leases = allocator_.list();
  ASSERT_TRUE(leases.ok()) << leases.status();
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ(leases->front().workload.kind, fl::WorkloadKind::kStatefulSet);
  EXPECT_EQ(leases->front().workload.name, "web");
}

// Right after quasard starts, before its object view has the pools, a floating ADD is asked to
// try again (11), not told that no pool serves the node (105); a pod-CIDR ADD goes on.
TEST_F(FloatingAddTest, PoolsNotLoadedYetAskToRetry) {
  bool ready = false;
  floating_.setPoolsReady([&ready] { return ready; });
  allocator_.setPools({fl::testing::pool("a", 0, 100, 101)});
  pb::AllocateReply reply;
  auto s = add("c1", "web-0", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("not loaded yet"), std::string::npos) << s.error_message();
  EXPECT_EQ(allocations(), 0);
  pods_.pods["ml/plain"] = PodFacts{"uid-plain", {}, {}, "view", nullptr};
  s = add("c2", "plain", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.allocation().source(), "");
  ready = true;
  s = add("c1", "web-0", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.allocation().source(), fl::FloatingSource::kName);
}

// The source answered that no such pod exists: there are no annotations to miss, and a pod the
// API does not know is given no floating address.
TEST_F(FloatingAddTest, APodTheSourceDoesNotKnowGetsAPodCidrAddress) {
  allocator_.setPools({fl::testing::pool("a", 0, 100, 101)});
  pb::AllocateReply reply;
  const auto s = add("c1", "nobody", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.allocation().source(), "");
  EXPECT_EQ(reply.allocation().pod_lookup(), "none");
  EXPECT_EQ(reply.allocation().ips(0).rfind("10.0.0.", 0), 0u) << reply.allocation().ips(0);
}

}  // namespace
}  // namespace quasar::daemon
