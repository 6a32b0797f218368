#include "daemon/api/plugin_server.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "daemon/api/plugin_wire.h"
#include "daemon/store/sqlite_allocation_store.h"

namespace quasar::daemon {
namespace {

namespace pb = quasar::api::v1;
using std::chrono::steady_clock;

// A real QuasardService over SQLite in a temporary directory; nothing touches the kernel (no
// request names a host veth, so the reaper stays idle).
class PluginServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);  // one line per allocation otherwise
    char tmpl[] = "/tmp/quasar-ps-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/cni.sock";
    auto s = SqliteAllocationStore::open(dir_ + "/ipam.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ipam::AddressManager::Options o{{*conf::IpPrefix::parse("10.1.0.0/16")}, {}, 0, nullptr};
    auto m = ipam::AddressManager::create(o, *store_, [] { return int64_t{1'000'000}; });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    reaper_ = std::make_unique<VethReaper>(*manager_);
    service_ = std::make_unique<QuasardService>(*manager_, *reaper_, NodeInfo{});
    server_ = std::make_unique<PluginServer>(*service_);
    ASSERT_TRUE(server_->start(socket_).ok());
  }
  void TearDown() override {
    server_.reset();
    service_.reset();
    reaper_.reset();
    manager_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A connected client socket (invalid when the server does not accept).
  routing::Fd connectClient() {
    routing::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
    timeval tv{20, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

  static absl::Status allocate(int fd, const std::string& container) {
    pb::PluginRequest req;
    req.mutable_allocate()->mutable_attachment()->set_container_id(container);
    req.mutable_allocate()->mutable_attachment()->set_ifname("eth0");
    req.mutable_allocate()->set_network("quasar");
    if (auto s = api::writeFrame(fd, req); !s.ok()) return s;
    pb::PluginReply reply;
    if (auto s = api::readFrame(fd, reply); !s.ok()) return s;
    if (reply.code() != 0) return absl::InternalError(reply.message());
    return absl::OkStatus();
  }

  std::string dir_;
  std::string socket_;
  std::unique_ptr<SqliteAllocationStore> store_;
  std::unique_ptr<ipam::AddressManager> manager_;
  std::unique_ptr<VethReaper> reaper_;
  std::unique_ptr<QuasardService> service_;
  std::unique_ptr<PluginServer> server_;
};

// Each call is counted by command and result and timed (quasar_cni_request_*).
TEST_F(PluginServerTest, CountsAndTimesCallsByCommandAndResult) {
  metrics::QuasardMetrics metrics;
  server_ = std::make_unique<PluginServer>(*service_);  // the fixture's one is stopped first
  server_->setMetrics(&metrics.cni());
  ASSERT_TRUE(server_->start(socket_).ok());
  routing::Fd fd = connectClient();
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(allocate(fd.get(), "m1").ok());
  ASSERT_TRUE(allocate(fd.get(), "m2").ok());
  pb::PluginRequest empty;  // no call: refused
  ASSERT_TRUE(api::writeFrame(fd.get(), empty).ok());
  pb::PluginReply reply;
  ASSERT_TRUE(api::readFrame(fd.get(), reply).ok());
  EXPECT_EQ(reply.code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(metrics.cni_requests.with({"ADD", "ok"}).value(), 2u);
  EXPECT_EQ(metrics.cni_requests.with({"OTHER", "invalid_argument"}).value(), 1u);
  EXPECT_EQ(metrics.cni_request_duration.with({"ADD"}).snapshot().cumulative.back(), 2u);
}

TEST_F(PluginServerTest, StopClosesIdleConnectionsAndReturnsPromptly) {
  std::vector<routing::Fd> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connectClient());
    ASSERT_TRUE(clients.back().valid());
    // One answered request: the connection's thread is serving it when stop() comes.
    ASSERT_TRUE(allocate(clients.back().get(), "idle" + std::to_string(i)).ok());
  }
  const auto start = steady_clock::now();
  server_->stop();
  // A connection idles for up to 10 s before the server drops it on its own; stop() must not
  // wait for that.
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(3));
  for (auto& c : clients) {
    char byte;
    EXPECT_EQ(::read(c.get(), &byte, 1), 0) << "the server did not close its end";
  }
}

TEST_F(PluginServerTest, StopWhileManyConnectionsAreBusyJoinsThemAll) {
  constexpr int kClients = 32;
  std::atomic<int> answered{0};
  std::atomic<int> ended{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      // Each client keeps its connection busy until the server goes away.
      routing::Fd fd = connectClient();
      for (int i = 0; fd.valid(); ++i) {
        if (!allocate(fd.get(), "busy" + std::to_string(t) + "-" + std::to_string(i)).ok()) break;
        ++answered;
      }
      ++ended;
    });
  }
  const auto deadline = steady_clock::now() + std::chrono::seconds(20);
  while (answered < 4 * kClients && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(answered.load(), 4 * kClients);
  const auto start = steady_clock::now();
  server_->stop();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
  // Everything the connections used goes away now; a thread still serving would use it after
  // free (the sanitizer builds see that).
  server_.reset();
  service_.reset();
  for (auto& c : clients) c.join();
  EXPECT_EQ(ended.load(), kClients);
}

TEST_F(PluginServerTest, ServesAgainAfterManyShortConnections) {
  // Finished connections are joined as new ones come: more connections than kMaxConnections,
  // one after the other, are all served.
  for (int i = 0; i < PluginServer::kMaxConnections + 20; ++i) {
    routing::Fd fd = connectClient();
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(allocate(fd.get(), "short" + std::to_string(i)).ok()) << i;
  }
}

}  // namespace
}  // namespace quasar::daemon
