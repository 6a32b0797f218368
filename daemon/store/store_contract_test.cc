// The behaviour quasard relies on from its datastore, run against each backend:
// store_sqlite_test (label unit) and store_etcd_test (label netns: a real etcd, started here
// inside the test's own network namespace).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_replace.h"
#include "daemon/cluster/block_manager.h"
#include "daemon/cluster/cluster_keys.h"
#include "daemon/store/etcd_store.h"
#include "daemon/cluster/node_registry.h"
#include "daemon/store/sqlite_kv_store.h"
#include "daemon/cluster/stale_block_reclaimer.h"
#include "daemon/store/sqlite_db.h"
#include "tests/spawn.h"

namespace quasar::daemon {
namespace {

using namespace std::chrono_literals;

#ifdef QUASAR_STORE_BACKEND_ETCD
// True once something accepts connections on 127.0.0.1:port (up to 5 s).
bool waitForPort(int port) {
  for (int i = 0; i < 200; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (up) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}
#endif

class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-store-contract-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
#ifdef QUASAR_STORE_BACKEND_ETCD
    startEtcd();
    // Wait for etcd's port before the first call, so that call's retries are not spent on a
    // server that is still starting.
    ASSERT_TRUE(waitForPort(23790)) << "etcd does not listen on 127.0.0.1:23790";
    EtcdOptions o;
    o.endpoints = {"127.0.0.1:23790"};
    o.key_prefix = "/quasar-test/";
    auto s = EtcdStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    // Ready when a read succeeds.
    for (int i = 0; i < 100; ++i) {
      if (store_->get("probe").ok()) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "etcd did not come up";
#else
    auto s = SqliteKvStore::open(dir_ + "/kv.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
#endif
  }

  void TearDown() override {
    store_.reset();
    if (etcd_pid_ > 0) {
      kill(etcd_pid_, SIGKILL);
      waitpid(etcd_pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  void startEtcd() {
    const std::string peer = "http://127.0.0.1:23800";
    std::vector<std::string> args{"etcd",
                                  "--name=t",
                                  "--data-dir=" + dir_ + "/etcd",
                                  "--listen-client-urls=http://127.0.0.1:23790",
                                  "--advertise-client-urls=http://127.0.0.1:23790",
                                  "--listen-peer-urls=" + peer,
                                  "--initial-advertise-peer-urls=" + peer,
                                  "--initial-cluster=t=" + peer,
                                  "--log-level=error"};
    etcd_pid_ = tests::spawnBackground(args, dir_ + "/etcd.log");
    ASSERT_GT(etcd_pid_, 0) << "etcd (Debian's etcd-server) must be installed: scripts/setup.sh";
  }

  // Collects watch events for assertions.
  struct Collector {
    std::mutex mu;
    std::vector<WatchEvent> events;
    absl::Status error;
    Store::WatchCallback callback() {
      return [this](const std::vector<WatchEvent>& batch, const absl::Status& err) {
        std::lock_guard lock(mu);
        events.insert(events.end(), batch.begin(), batch.end());
        if (!err.ok()) error = err;
      };
    }
    bool waitFor(size_t n) {
      return waitUntil([&] { return events.size() >= n; });
    }
    // For "nothing more was delivered": an event written after the ones expected arrives after
    // them, so once it is here, any extra or repeated event would be too.
    bool waitForKey(const std::string& key) {
      return waitUntil([&] {
        return std::any_of(events.begin(), events.end(),
                           [&](const WatchEvent& e) { return e.kv.key == key; });
      });
    }
    template <typename Pred>
    bool waitUntil(Pred pred) {
      for (int i = 0; i < 100; ++i) {
        {
          std::lock_guard lock(mu);
          if (pred()) return true;
        }
        std::this_thread::sleep_for(50ms);
      }
      return false;
    }
  };

  std::string dir_;
  pid_t etcd_pid_ = -1;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreContract, PutGetListDeleteWithRevisionsAndVersions) {
  auto r1 = store_->put("nodes/a", "1", 0);
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = store_->put("nodes/a", "2", 0);
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  ASSERT_TRUE(store_->put("nodes/b", "x", 0).ok());
  ASSERT_TRUE(store_->put("nodesX", "not under nodes/", 0).ok());
  auto a = store_->get("nodes/a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "2");
  EXPECT_EQ((*a)->version, 2);
  EXPECT_EQ((*a)->create_revision, *r1);
  EXPECT_EQ((*a)->mod_revision, *r2);
  auto l = store_->list("nodes/");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->kvs.size(), 2u);
  EXPECT_EQ(l->kvs[0].key, "nodes/a");
  EXPECT_EQ(l->kvs[1].key, "nodes/b");
  EXPECT_GE(l->revision, *r2);
  EXPECT_EQ(*store_->del("nodes/a"), 1);
  EXPECT_EQ(*store_->del("nodes/a"), 0);
  EXPECT_FALSE(store_->get("nodes/a")->has_value());
}

TEST_F(StoreContract, CreateIfAbsentSucceedsExactlyOnceUnderRace) {
  // Eight claimants race for one block: exactly one wins.
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->txn({Compare::absent("blocks/10.244.0.0-26")},
                           {Op::put("blocks/10.244.0.0-26", "node" + std::to_string(i))}, {});
      if (r.ok() && r->succeeded) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_F(StoreContract, CompareAndSwapOnModRevisionAndValue) {
  auto rev = store_->put("k", "v1", 0);
  ASSERT_TRUE(rev.ok());
  auto stale =
      store_->txn({Compare::modRevisionIs("k", *rev - 1)}, {Op::put("k", "bad")}, {Op::get("k")});
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(stale->succeeded);
  ASSERT_EQ(stale->gets.size(), 1u);
  ASSERT_EQ(stale->gets[0].size(), 1u);
  EXPECT_EQ(stale->gets[0][0].value, "v1");
  auto ok = store_->txn({Compare::modRevisionIs("k", *rev), Compare::valueIs("k", "v1")},
                        {Op::put("k", "v2"), Op::put("k2", "also")}, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->succeeded);
  // Both keys of the transaction carry the same revision.
  EXPECT_EQ((*store_->get("k"))->mod_revision, (*store_->get("k2"))->mod_revision);
  EXPECT_FALSE(store_->txn({Compare::valueIs("absent", "x")}, {}, {})->succeeded);
}

// kMaxTxnOps operations fit in one transaction on every backend; etcd refuses one more (its
// default --max-txn-ops), which is why callers with more split them (ObjectStore).
TEST_F(StoreContract, ATransactionHoldsUpToMaxTxnOps) {
  std::vector<Op> puts;
  for (size_t i = 0; i < kMaxTxnOps; ++i) puts.push_back(Op::put("many/" + std::to_string(i), "v"));
  auto r = store_->txn({}, puts, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(store_->list("many/")->kvs.size(), kMaxTxnOps);
#ifdef QUASAR_STORE_BACKEND_ETCD
  puts.push_back(Op::put("many/one-more", "v"));
  EXPECT_FALSE(store_->txn({}, puts, {}).ok()) << "etcd took more than kMaxTxnOps";
  EXPECT_FALSE(store_->get("many/one-more")->has_value());
#endif
}

TEST_F(StoreContract, LeaseExpiryDeletesItsKeysAndKeepAliveDefersIt) {
  auto kept = store_->grantLease(2s);
  auto dropped = store_->grantLease(2s);
  ASSERT_TRUE(kept.ok() && dropped.ok()) << kept.status() << dropped.status();
  ASSERT_TRUE(store_->put("live/kept", "x", *kept).ok());
  ASSERT_TRUE(store_->put("live/dropped", "x", *dropped).ok());
  EXPECT_EQ((*store_->get("live/kept"))->lease, *kept);
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    ASSERT_TRUE(store_->keepAlive(*kept).ok());
    std::this_thread::sleep_for(200ms);
    gone = !store_->get("live/dropped")->has_value();
  }
  EXPECT_TRUE(gone) << "a lease that is not kept alive must expire";
  EXPECT_TRUE(store_->get("live/kept")->has_value());
  EXPECT_TRUE(absl::IsNotFound(store_->keepAlive(*dropped))) << store_->keepAlive(*dropped);
  EXPECT_FALSE(store_->put("live/late", "x", *dropped).ok());
  ASSERT_TRUE(store_->revokeLease(*kept).ok());
  EXPECT_FALSE(store_->get("live/kept")->has_value());
}

TEST_F(StoreContract, WatchDeliversInOrderAndResumesFromARevision) {
  Collector first;
  auto w = store_->watch("nodes/", 0, first.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  std::this_thread::sleep_for(300ms);  // let the watch be established ("from now on")
  ASSERT_TRUE(store_->put("nodes/a", "1", 0).ok());
  ASSERT_TRUE(store_->put("other/x", "ignored", 0).ok());
  ASSERT_TRUE(store_->put("nodes/b", "2", 0).ok());
  ASSERT_TRUE(store_->del("nodes/a").ok());
  ASSERT_TRUE(first.waitFor(3));
  w->reset();
  int64_t last;
  {
    std::lock_guard lock(first.mu);
    ASSERT_EQ(first.events.size(), 3u);
    EXPECT_EQ(first.events[0].kv.key, "nodes/a");
    EXPECT_EQ(first.events[1].kv.key, "nodes/b");
    EXPECT_EQ(first.events[2].type, WatchEvent::Type::kDelete);
    EXPECT_LT(first.events[0].kv.mod_revision, first.events[1].kv.mod_revision);
    last = first.events[2].kv.mod_revision;
  }
  // While nobody watches, two changes happen; a watch resuming after `last` sees exactly them.
  ASSERT_TRUE(store_->put("nodes/c", "3", 0).ok());
  ASSERT_TRUE(store_->put("nodes/b", "2b", 0).ok());
  Collector resumed;
  auto w2 = store_->watch("nodes/", last + 1, resumed.callback());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE(resumed.waitFor(2));
  ASSERT_TRUE(store_->put("nodes/sentinel", "", 0).ok());
  ASSERT_TRUE(resumed.waitForKey("nodes/sentinel"));
  std::lock_guard lock(resumed.mu);
  ASSERT_EQ(resumed.events.size(), 3u);
  EXPECT_EQ(resumed.events[0].kv.key, "nodes/c");
  EXPECT_EQ(resumed.events[1].kv.value, "2b");
  EXPECT_EQ(resumed.events[2].kv.key, "nodes/sentinel");
  EXPECT_TRUE(resumed.error.ok());
}

// An autoscaled fleet: 100 nodes join, claim blocks and vanish for good, in waves, against a
// cluster CIDR with 40 free blocks (64, of which four live nodes hold 24). The live nodes'
// reclaimers, racing each other, give every block of a vanished node back exactly once, never
// before the grace, and never a live node's; no wave finds the CIDR exhausted.
TEST_F(StoreContract, VanishedNodesBlocksAreReclaimedSoAFleetNeverExhaustsTheCidr) {
  const auto cidr = *conf::IpPrefix::parse("10.96.0.0/24");
  constexpr int kBlockLength = 30;  // 64 blocks
  constexpr int64_t kGraceMs = 60'000;
  auto join = [&](const std::string& name) {
    auto r = std::make_unique<NodeRegistry>(*store_, NodeRecord{name, "", "", "", {}}, 10s);
    EXPECT_TRUE(r->start().ok()) << name;
    return r;
  };
  std::vector<std::unique_ptr<NodeRegistry>> survivors;
  std::vector<StaleBlockReclaimer> reclaimers;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "live-" + std::to_string(i);
    survivors.push_back(join(name));
    BlockManager blocks(*store_, name, cidr, kBlockLength);
    for (int b = 0; b < 6; ++b) ASSERT_TRUE(blocks.claim().ok());
    reclaimers.emplace_back(*store_, name, std::chrono::milliseconds(kGraceMs));
  }
  std::mutex mu;
  std::vector<std::string> reclaimed;  // every block reported by any reclaimer
  auto tickAll = [&](int64_t now) {
    std::vector<std::thread> threads;
    for (auto& r : reclaimers) {
      threads.emplace_back([&, now] {
        auto got = r.tick(now);
        ASSERT_TRUE(got.ok()) << got.status();
        std::lock_guard lock(mu);
        for (const auto& b : *got) reclaimed.push_back(b.toString());
      });
    }
    for (auto& t : threads) t.join();
  };
  int64_t now = 0;
  size_t expected_reclaimed = 0;
  for (int wave = 0; wave < 10; ++wave) {
    std::vector<std::unique_ptr<NodeRegistry>> fleet;
    for (int i = 0; i < 10; ++i) {
      const std::string name = "gpu-" + std::to_string(wave * 10 + i);
      fleet.push_back(join(name));
      BlockManager blocks(*store_, name, cidr, kBlockLength);
      for (int b = 0; b < 2; ++b) {
        auto claimed = blocks.claim();
        ASSERT_TRUE(claimed.ok()) << "wave " << wave << " " << name << ": " << claimed.status();
      }
    }
    for (auto& r : fleet) r->stop(/*revoke=*/true);  // scaled down: gone for good
    tickAll(now += 1000);
    tickAll(now += kGraceMs / 2);
    ASSERT_EQ(reclaimed.size(), expected_reclaimed) << "wave " << wave << ": within the grace";
    tickAll(now += kGraceMs / 2 + 1);
    expected_reclaimed += 20;
    ASSERT_EQ(reclaimed.size(), expected_reclaimed) << "wave " << wave;
    // Each of the wave's 20 blocks once (a block is claimed and reclaimed again in later waves).
    const std::set<std::string> this_wave(reclaimed.end() - 20, reclaimed.end());
    EXPECT_EQ(this_wave.size(), 20u) << "wave " << wave << ": a block reclaimed twice";
  }
  // Every block is free or owned by a live node.
  auto blocks = store_->list(keys::kBlocks);
  ASSERT_TRUE(blocks.ok());
  EXPECT_EQ(blocks->kvs.size(), 24u);
  for (const auto& kv : blocks->kvs) {
    const auto owner = nlohmann::json::parse(kv.value).value("node", "");
    EXPECT_TRUE(store_->get(keys::live(owner))->has_value()) << kv.key << " owned by " << owner;
  }
  for (auto& r : survivors) r->stop(/*revoke=*/true);
}

#ifndef QUASAR_STORE_BACKEND_ETCD
// A fault injected into the lease table (a trigger that refuses to delete a lease row, from a
// second connection) shows whether a revoke is one transaction: it must leave everything as it
// was, never the keys deleted and the lease still there.
void refuseLeaseDeletion(const std::string& db_path) {
  auto db = openSqlite(db_path,
                             "CREATE TRIGGER IF NOT EXISTS refuse_lease_delete BEFORE DELETE ON "
                             "leases BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
  ASSERT_TRUE(db.ok()) << db.status();
}

TEST_F(StoreContract, RevokeLeaseIsOneTransaction) {
  auto lease = store_->grantLease(60s);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(store_->put("live/a", "x", *lease).ok());
  refuseLeaseDeletion(dir_ + "/kv.db");
  EXPECT_FALSE(store_->revokeLease(*lease).ok());
  EXPECT_TRUE(store_->get("live/a")->has_value()) << "keys deleted, lease kept: two commits";
  EXPECT_TRUE(store_->keepAlive(*lease).ok());
}

TEST_F(StoreContract, ExpiryRechecksAndDeletesInOneTransaction) {
  std::atomic<int64_t> now{1'000'000};
  store_.reset();
  auto s = SqliteKvStore::open(dir_ + "/clocked.db", [&] { return now.load(); });
  ASSERT_TRUE(s.ok()) << s.status();
  auto lease_a = (*s)->grantLease(2s);
  auto lease_b = (*s)->grantLease(2s);
  ASSERT_TRUE(lease_a.ok() && lease_b.ok());
  ASSERT_TRUE((*s)->put("live/a", "x", *lease_a).ok());
  ASSERT_TRUE((*s)->put("live/b", "x", *lease_b).ok());
  // The fault hits every lease row: one transaction leaves both leases and keys as they were.
  refuseLeaseDeletion(dir_ + "/clocked.db");
  now += 3000;
  EXPECT_FALSE((*s)->expireLeases().ok());
  EXPECT_TRUE((*s)->get("live/a")->has_value());
  EXPECT_TRUE((*s)->get("live/b")->has_value());
}
#endif

#ifdef QUASAR_STORE_BACKEND_ETCD
// etcd goes away (killed) and comes back on the same data: calls made meanwhile fail with
// Unavailable after their retries, later ones succeed, and the watch resumes where it was:
// every event once, in order, including those written before it reconnected.
TEST_F(StoreContract, EtcdRestartKeepsDataAndTheWatchMissesNothing) {
  Collector c;
  auto w = store_->watch("nodes/", 0, c.callback());
  ASSERT_TRUE(w.ok());
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(store_->put("nodes/before", "1", 0).ok());
  ASSERT_TRUE(c.waitFor(1));
  kill(etcd_pid_, SIGKILL);
  waitpid(etcd_pid_, nullptr, 0);
  auto down = store_->put("nodes/while-down", "x", 0);
  EXPECT_TRUE(absl::IsUnavailable(down.status())) << down.status();
  std::this_thread::sleep_for(2s);
  startEtcd();
  absl::StatusOr<int64_t> after = absl::UnavailableError("not tried");
  for (int i = 0; i < 50 && !after.ok(); ++i) after = store_->put("nodes/after", "2", 0);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_TRUE(store_->put("nodes/after", "3", 0).ok());
  EXPECT_TRUE((*store_->get("nodes/before")).has_value());
  ASSERT_TRUE(c.waitFor(3));
  ASSERT_TRUE(store_->put("nodes/sentinel", "", 0).ok());
  ASSERT_TRUE(c.waitForKey("nodes/sentinel"));
  std::lock_guard lock(c.mu);
  ASSERT_EQ(c.events.size(), 4u);
  EXPECT_EQ(c.events[0].kv.key, "nodes/before");
  EXPECT_EQ(c.events[1].kv.value, "2");
  EXPECT_EQ(c.events[2].kv.value, "3");
  EXPECT_EQ(c.events[3].kv.key, "nodes/sentinel");
  EXPECT_TRUE(c.error.ok()) << c.error;
}

// Endpoints are tried in order: with a dead one first, calls fail over to the live one.
TEST_F(StoreContract, EtcdFailsOverToTheNextEndpoint) {
  EtcdOptions o;
  o.endpoints = {"127.0.0.1:1", "127.0.0.1:23790"};  // nothing listens on port 1
  o.key_prefix = "/quasar-test/";
  auto s = EtcdStore::open(o);
  ASSERT_TRUE(s.ok());
  auto put = (*s)->put("failover", "ok", 0);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ((*store_->get("failover"))->value, "ok");
  EXPECT_NE((*s)->describe().find("127.0.0.1:1,127.0.0.1:23790"), std::string::npos);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// etcd (with --logger=zap) logs every connection it rejects, with the handshake's reason.
size_t rejectedConnections(const std::string& etcd_log, const std::string& reason) {
  size_t count = 0;
  std::istringstream in(etcd_log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("rejected connection") != std::string::npos &&
        line.find(reason) != std::string::npos) {
      ++count;
    }
  }
  return count;
}

// True once etcd's log holds a rejection for `reason` (up to 5 s: the client may see the
// closed connection before etcd writes the line).
bool awaitRejection(const std::string& etcd_log_path, const std::string& reason) {
  for (int i = 0; i < 100; ++i) {
    if (rejectedConnections(slurp(etcd_log_path), reason) > 0) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// One KV Range over a channel of its own, with `creds`: how any client fares, with or without a
// certificate (EtcdStore itself takes all three files or none).
grpc::Status rawRange(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  auto stub = etcdserverpb::KV::NewStub(grpc::CreateChannel("127.0.0.1:23791", creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 3s);
  ctx.set_wait_for_ready(false);
  etcdserverpb::RangeRequest req;
  req.set_key("/quasar-test/tls/k");
  etcdserverpb::RangeResponse resp;
  return stub->Range(&ctx, req, &resp);
}

// TLS with client certificates against etcd started with --client-cert-auth. Every refusal
// below passes quasard's option checks (the files exist and are well-formed) and fails in the
// TLS handshake: the call ends Unavailable, with OpenSSL's verdict on etcd's certificate or
// with etcd's own log line naming why it refused the client's. The same clients with the right
// CA and certificate succeed, so the refusals come from the CA and the certificate.
TEST(EtcdTls, EtcdRefusesAWrongCaAndAClientWithoutCertificate) {
  char tmpl[] = "/tmp/quasar-etcd-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string d = tmpl;
  const std::string script = R"(set -e
cd ")" + d + R"("
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -subj /CN=$who -keyout $who.key -out $who.csr
  printf 'subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
' > $who.ext
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1     -extfile $who.ext -out $who.pem
done
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rogue-ca -keyout rogue-ca.key -out rogue-ca.pem
openssl req -newkey rsa:2048 -nodes -subj /CN=rogue -keyout rogue.key -out rogue.csr
openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial -days 1 \
  -extfile client.ext -out rogue.pem
)";
  ASSERT_EQ(std::system(
                ("bash -c '" + absl::StrReplaceAll(script, {{"'", "'\\''"}}) + "' >/dev/null 2>&1")
                    .c_str()),
            0)
      << "openssl failed";
  std::vector<std::string> args{"etcd",
                                "--name=tls",
                                "--data-dir=" + d + "/data",
                                "--listen-client-urls=https://127.0.0.1:23791",
                                "--advertise-client-urls=https://127.0.0.1:23791",
                                "--listen-peer-urls=http://127.0.0.1:23801",
                                "--initial-advertise-peer-urls=http://127.0.0.1:23801",
                                "--initial-cluster=tls=http://127.0.0.1:23801",
                                "--cert-file=" + d + "/server.pem",
                                "--key-file=" + d + "/server.key",
                                "--trusted-ca-file=" + d + "/ca.pem",
                                "--client-cert-auth",
                                "--logger=zap",
                                "--log-outputs=stderr",
                                "--log-level=warn"};
  const pid_t pid = tests::spawnBackground(args, d + "/etcd.log");
  ASSERT_GT(pid, 0);
  // Also when an assertion below ends the test early.
  absl::Cleanup stop_etcd = [pid, d] {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(d);
  };
  ASSERT_TRUE(waitForPort(23791));
  auto read = [&](const std::string& name) { return slurp(d + "/" + name); };

  // The right CA and a certificate it signed: accepted.
  EtcdOptions o;
  o.endpoints = {"127.0.0.1:23791"};
  o.key_prefix = "/quasar-test/";
  o.ca_file = d + "/ca.pem";
  o.cert_file = d + "/client.pem";
  o.key_file = d + "/client.key";
  auto with_cert = EtcdStore::open(o);
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  absl::StatusOr<int64_t> put = absl::UnavailableError("not tried");
  for (int i = 0; i < 50 && !put.ok(); ++i) {
    put = (*with_cert)->put("tls/k", "v", 0);
    if (!put.ok()) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ((*(*with_cert)->get("tls/k"))->value, "v");
  grpc::SslCredentialsOptions full{read("ca.pem"), read("client.key"), read("client.pem")};
  const grpc::Status raw_ok = rawRange(grpc::SslCredentials(full));
  EXPECT_TRUE(raw_ok.ok()) << raw_ok.error_message();
  const std::string log_before = read("etcd.log");

  // A CA that did not sign etcd's certificate: quasard refuses etcd in the handshake.
  EtcdOptions wrong_ca = o;
  wrong_ca.ca_file = d + "/rogue-ca.pem";
  wrong_ca.attempts = 2;
  auto distrusting = EtcdStore::open(wrong_ca);
  ASSERT_TRUE(distrusting.ok()) << "the option check must pass: " << distrusting.status();
  auto refused_server = (*distrusting)->get("tls/k");
  EXPECT_TRUE(absl::IsUnavailable(refused_server.status())) << refused_server.status();

  // A client certificate from a CA etcd does not trust: etcd refuses it in the handshake.
  EtcdOptions rogue = o;
  rogue.cert_file = d + "/rogue.pem";
  rogue.key_file = d + "/rogue.key";
  rogue.attempts = 2;
  auto untrusted = EtcdStore::open(rogue);
  ASSERT_TRUE(untrusted.ok()) << "the option check must pass: " << untrusted.status();
  auto refused_client = (*untrusted)->get("tls/k");
  EXPECT_TRUE(absl::IsUnavailable(refused_client.status())) << refused_client.status();

  // No client certificate at all, with the right CA: etcd refuses it in the handshake.
  grpc::SslCredentialsOptions ca_only{read("ca.pem"), "", ""};
  const grpc::Status no_cert = rawRange(grpc::SslCredentials(ca_only));
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();

  // The refusals come from the handshake: quasard's client finds etcd's certificate unsigned by
  // its CA; etcd logs why it refused the other two. It had refused nobody's certificate before.
  EXPECT_NE(refused_server.status().message().find("certificate verify failed"), std::string::npos)
      << refused_server.status();
  EXPECT_EQ(rejectedConnections(log_before, "certificate"), 0u) << log_before;
  EXPECT_TRUE(awaitRejection(d + "/etcd.log", "certificate signed by unknown authority"))
      << read("etcd.log");
  EXPECT_TRUE(awaitRejection(d + "/etcd.log", "client didn't provide a certificate"))
      << read("etcd.log");

  // quasard's own check, before any connection: TLS takes all three files or none.
  EtcdOptions half = o;
  half.key_file.clear();
  auto half_open = EtcdStore::open(half);
  EXPECT_TRUE(absl::IsInvalidArgument(half_open.status())) << half_open.status();
}
#endif

}  // namespace
}  // namespace quasar::daemon
