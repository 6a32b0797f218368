// QuasardService over a real AddressManager (SQLite in a temporary directory) and a VethReaper
// whose kernel is a fake: what the API accepts, and the order in which it lets go of addresses.

#include "daemon/api/quasard_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "daemon/agents/driven_source.h"
#include "daemon/store/sqlite_allocation_store.h"
#include "netpolicy/kernel/fake_policy_kernel.h"
#include "routing/pod_link.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;

// An in-memory node: veths by name with their indexes. remove() can be held at a gate, to keep
// the reaper busy while a test looks at what the service does meanwhile.
class FakeLinks final : public VethLinks {
 public:
  int add(const std::string& name) {
    std::lock_guard lock(mu_);
    links_[name] = ++last_index_;
    return last_index_;
  }
  // The pair goes by itself (e.g. with its pod's namespace).
  void vanish(const std::string& name) {
    std::lock_guard lock(mu_);
    links_.erase(name);
  }
  bool has(const std::string& name) {
    std::lock_guard lock(mu_);
    return links_.contains(name);
  }
  void closeGate() {
    std::lock_guard lock(mu_);
    gate_open_ = false;
  }
  void openGate() {
    {
      std::lock_guard lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  // Waits (up to 5 s) until remove() was called `n` times; false if it was not.
  bool awaitRemoveCalls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return remove_calls_ >= n; });
  }
  std::vector<int> removed() {
    std::lock_guard lock(mu_);
    return removed_;
  }

  absl::StatusOr<int> index(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = links_.find(name);
    if (it == links_.end()) return absl::NotFoundError(name);
    return it->second;
  }
  absl::StatusOr<std::vector<routing::HostVeth>> list() override {
    std::lock_guard lock(mu_);
    std::vector<routing::HostVeth> out;
    for (const auto& [name, index] : links_) out.push_back({name, index});
    return out;
  }
  std::vector<absl::Status> remove(const std::vector<int>& indexes) override {
    std::unique_lock lock(mu_);
    ++remove_calls_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return gate_open_; });
    for (int index : indexes) {
      removed_.push_back(index);
      std::erase_if(links_, [&](const auto& kv) { return kv.second == index; });
    }
    return std::vector<absl::Status>(indexes.size());
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> links_;
  int last_index_ = 10;
  bool gate_open_ = true;
  int remove_calls_ = 0;
  std::vector<int> removed_;
};

class IpamServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-svc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = SqliteAllocationStore::open(dir_ + "/ipam.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ipam::AddressManager::Options o{{*conf::IpPrefix::parse("10.0.0.0/24")}, {}, 0, nullptr};
    auto m = ipam::AddressManager::create(o, *store_, [] { return int64_t{1'000'000}; });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    auto links = std::make_unique<FakeLinks>();
    links_ = links.get();
    reaper_ = std::make_unique<VethReaper>(*manager_, std::move(links));
    service_ = std::make_unique<QuasardService>(*manager_, *reaper_, NodeInfo{});
  }
  void TearDown() override {
    links_->openGate();
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
  std::unique_ptr<SqliteAllocationStore> store_;
  std::unique_ptr<ipam::AddressManager> manager_;
  FakeLinks* links_ = nullptr;  // owned by reaper_
  std::unique_ptr<VethReaper> reaper_;
  std::unique_ptr<QuasardService> service_;
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

// The reaper removes the pair that was released, by its index, and not a pair made later under
// the same name.
TEST_F(IpamServiceTest, ReaperRemovesTheReleasedPairByItsIndex) {
  const std::string host = routing::hostVethName({"c1", "eth0"});
  pb::AllocateReply a;
  const auto alloc = allocateRequest("c1");
  ASSERT_TRUE(service_->Allocate(nullptr, &alloc, &a).ok());
  const int old_index = links_->add(host);
  links_->closeGate();
  pb::ReleaseReply r;
  const auto del = releaseRequest("c1", host);
  ASSERT_TRUE(service_->Release(nullptr, &del, &r).ok());
  ASSERT_TRUE(links_->awaitRemoveCalls(1));
  // As if the old pair went with its pod's namespace and the next pair came under its name.
  links_->vanish(host);
  const int new_index = links_->add(host);
  links_->openGate();
  reaper_->drain();
  EXPECT_EQ(links_->removed(), (std::vector<int>{old_index}));
  EXPECT_TRUE(links_->has(host)) << "the newer pair " << new_index << " was removed";
}

// An ADD of an attachment whose previous pair the reaper has not removed within the limit
// answers "try again later" instead of going ahead under the same name.
TEST_F(IpamServiceTest, AllocateWhileThePreviousPairIsStillQueuedAsksToRetry) {
  const std::string host = routing::hostVethName({"c1", "eth0"});
  pb::AllocateReply a;
  const auto alloc = allocateRequest("c1");
  ASSERT_TRUE(service_->Allocate(nullptr, &alloc, &a).ok());
  links_->add(host);
  links_->closeGate();
  pb::ReleaseReply r;
  const auto del = releaseRequest("c1", host);
  ASSERT_TRUE(service_->Release(nullptr, &del, &r).ok());
  ASSERT_TRUE(links_->awaitRemoveCalls(1));
  auto s = service_->Allocate(nullptr, &alloc, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(manager_->list("").empty());
  links_->openGate();
  reaper_->drain();
  EXPECT_TRUE(service_->Allocate(nullptr, &alloc, &a).ok());
}

// GC removes the veths no one holds, but never that of an attachment quasard holds in any
// state: here one whose ADD is in flight (its address reserved, the commit not yet done).
TEST_F(IpamServiceTest, GcKeepsTheVethOfAnAttachmentBeingAllocated) {
  const std::string orphan = routing::hostVethName({"gone", "eth0"});
  const std::string in_flight = routing::hostVethName({"c1", "eth0"});
  links_->add(orphan);
  pb::GcReply gc_reply;
  grpc::Status gc_status;
  const auto alloc = allocateRequest("c1");
  pb::AllocateReply a;
  auto s = service_->allocate(alloc, &a, [&](const pb::AllocateReply&) {
    links_->add(in_flight);  // what the plugin does once quasard has answered
    pb::GcRequest gc;
    gc.set_network("quasar");
    gc_status = service_->Gc(nullptr, &gc, &gc_reply);
  });
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(gc_status.ok()) << gc_status.error_message();
  EXPECT_TRUE(links_->has(in_flight)) << "GC removed the veth of an ADD in flight";
  EXPECT_FALSE(links_->has(orphan));
  EXPECT_EQ(gc_reply.veths_removed(), 1);
  EXPECT_EQ(manager_->list("").size(), 1u);
}

// NetworkPolicy is enforced after the early answer (the plugin builds the veth meanwhile) and
// before the durable one: a policy that cannot be applied turns the ADD into "try again" and
// loses nothing, and once it can be applied the ADD succeeds. Here the agent's view never
// synced, so nothing can be applied.
TEST_F(IpamServiceTest, PolicyNotAppliedAfterTheEarlyAnswerFailsTheAddAndReleases) {
  testing::DrivenSource source;
  ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  netpolicy::testing::FakePolicyKernel kernel;
  netpolicy::Applier applier(kernel);
  PolicyAgent agent(view, applier,
                    {{"n1", {*conf::IpAddress::parse("10.250.0.2")}}, std::chrono::milliseconds(50)});
  agent.start();
  service_->setPolicyAgent(&agent, std::chrono::milliseconds(100));
  auto alloc = allocateRequest("c1");
  alloc.mutable_pod()->set_namespace_("x");
  alloc.mutable_pod()->set_name("a");
  int early = 0;
  pb::AllocateReply a;
  auto s = service_->allocate(alloc, &a, [&](const pb::AllocateReply& r) {
    ++early;
    EXPECT_FALSE(r.durable());
  });
  EXPECT_EQ(early, 1) << "the plugin gets its address before the policy is applied";
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(manager_->list("").empty()) << "the refused ADD's address is released";

  for (auto kind : source.kinds()) source.sink_->replace(kind, {});
  s = service_->allocate(alloc, &a, [&](const pb::AllocateReply&) { ++early; });
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(a.durable());
  EXPECT_EQ(early, 2);
  EXPECT_EQ(manager_->list("").size(), 1u);
  service_->setPolicyAgent(nullptr, std::chrono::milliseconds(100));
}

// GC's releases hold the address until the reaper has removed the veth, as DEL's do.
TEST_F(IpamServiceTest, GcHoldsReleasedAddressesUntilTheirVethIsGone) {
  const auto alloc = allocateRequest("c1");
  pb::AllocateReply a;
  ASSERT_TRUE(service_->Allocate(nullptr, &alloc, &a).ok());
  links_->add(routing::hostVethName({"c1", "eth0"}));
  links_->closeGate();
  pb::GcRequest gc;
  gc.set_network("quasar");
  pb::GcReply gc_reply;
  ASSERT_TRUE(service_->Gc(nullptr, &gc, &gc_reply).ok());
  ASSERT_EQ(gc_reply.released_size(), 1);
  ASSERT_TRUE(links_->awaitRemoveCalls(1));
  auto want = allocateRequest("c2");
  want.add_requested_ips(a.allocation().ips(0));
  pb::AllocateReply b;
  EXPECT_EQ(service_->Allocate(nullptr, &want, &b).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "the address was handed out while its old veth still existed";
  links_->openGate();
  reaper_->drain();
  auto s = service_->Allocate(nullptr, &want, &b);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Many ADDs and DELs at once, each DEL's veth left to the reaper's thread: no address goes to a
// new pod while a veth that had it still exists, every released pair is removed, nothing stays
// held. Also run under ThreadSanitizer.
TEST_F(IpamServiceTest, ConcurrentAddsAndDelsThroughTheReaperNeverShareAnAddress) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::mutex mu;
  std::map<std::string, std::string> veth_ip;  // every veth made so far, with its address
  std::atomic<int> duplicates{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kRounds; ++k) {
        const std::string cid = "t" + std::to_string(t) + "-" + std::to_string(k);
        const std::string host = routing::hostVethName({cid, "eth0"});
        const auto alloc = allocateRequest(cid);
        pb::AllocateReply a;
        if (!service_->Allocate(nullptr, &alloc, &a).ok()) {
          ++failures;
          continue;
        }
        const std::string ip = a.allocation().ips(0);
        {
          std::lock_guard lock(mu);
          for (const auto& [other, other_ip] : veth_ip) {
            if (other_ip == ip && links_->has(other)) ++duplicates;
          }
          veth_ip[host] = ip;
          links_->add(host);
        }
        pb::ReleaseReply r;
        const auto del = releaseRequest(cid, host);
        if (!service_->Release(nullptr, &del, &r).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  reaper_->drain();
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  auto left = links_->list();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << left->size() << " veths were not removed";
  EXPECT_EQ(links_->removed().size(), static_cast<size_t>(kThreads * kRounds));
  EXPECT_TRUE(manager_->list("").empty());
  // Nothing is still held: the whole /24 (less network and broadcast) can be handed out again.
  int again = 0;
  for (int i = 0; i < 254; ++i) {
    const auto alloc = allocateRequest("again-" + std::to_string(i));
    pb::AllocateReply a;
    if (service_->Allocate(nullptr, &alloc, &a).ok()) ++again;
  }
  EXPECT_EQ(again, 254);
}

}  // namespace
}  // namespace quasar::daemon

namespace quasar::daemon {
namespace {

// A PodLookup with canned answers, counting calls.
class FakePods final : public PodLookup {
 public:
  absl::StatusOr<std::optional<PodFacts>> find(const std::string& ns, const std::string& name,
                                               const std::string&,
                                               std::chrono::milliseconds) override {
    ++calls;
    if (!reachable) return absl::UnavailableError("connection refused");
    auto it = pods.find(ns + "/" + name);
    if (it == pods.end()) return std::optional<PodFacts>();
    return std::optional<PodFacts>(it->second);
  }
  std::map<std::string, PodFacts> pods;
  bool reachable = true;
  int calls = 0;
};

TEST_F(IpamServiceTest, AddRecordsThePodsQuasarAnnotationsAndWhereTheyCameFrom) {
  FakePods pods;
  pods.pods["ml/trainer-0"] = PodFacts{"uid-7",
                                       {{"app", "trainer"}},
                                       {{"quasar.io/floating-ip", "true"},
                                        {"k8s.v1.cni.galaxy.io/release-policy", "immutable"},
                                        {"kubectl.kubernetes.io/last-applied-configuration", "{}"}},
                                       "direct",
                                       nullptr};
  service_->setPodLookup(&pods, std::chrono::milliseconds(100));
  auto req = allocateRequest("c1");
  req.mutable_pod()->set_namespace_("ml");
  req.mutable_pod()->set_name("trainer-0");
  pb::AllocateReply reply;
  ASSERT_TRUE(service_->Allocate(nullptr, &req, &reply).ok());
  EXPECT_EQ(reply.allocation().pod_lookup(), "direct");
  EXPECT_EQ(reply.allocation().pod().uid(), "uid-7");  // the CNI call did not carry one
  const auto& ann = reply.allocation().pod_annotations();
  EXPECT_EQ(ann.size(), 2u);
  EXPECT_EQ(ann.at("quasar.io/floating-ip"), "true");
  EXPECT_EQ(ann.at("k8s.v1.cni.galaxy.io/release-policy"), "immutable");
  pb::ListReply list;
  const pb::ListRequest all;
  ASSERT_TRUE(service_->List(nullptr, &all, &list).ok());
  ASSERT_EQ(list.allocations_size(), 1);
  EXPECT_EQ(list.allocations(0).pod_lookup(), "direct");

  // A pod the source does not know, and a source that cannot answer: the ADD goes on.
  auto unknown = allocateRequest("c2");
  unknown.mutable_pod()->set_namespace_("ml");
  unknown.mutable_pod()->set_name("gone");
  ASSERT_TRUE(service_->Allocate(nullptr, &unknown, &reply).ok());
  EXPECT_EQ(reply.allocation().pod_lookup(), "none");
  pods.reachable = false;
  auto offline = allocateRequest("c3");
  offline.mutable_pod()->set_namespace_("ml");
  offline.mutable_pod()->set_name("trainer-1");
  ASSERT_TRUE(service_->Allocate(nullptr, &offline, &reply).ok());
  EXPECT_EQ(reply.allocation().pod_lookup().rfind("unavailable: ", 0), 0u)
      << reply.allocation().pod_lookup();
  // No pod name (a plain container, e.g. podman): nothing is asked.
  const int calls = pods.calls;
  auto plain = allocateRequest("c4");
  ASSERT_TRUE(service_->Allocate(nullptr, &plain, &reply).ok());
  EXPECT_EQ(pods.calls, calls);
  EXPECT_EQ(reply.allocation().pod_lookup(), "");
}

}  // namespace
}  // namespace quasar::daemon
