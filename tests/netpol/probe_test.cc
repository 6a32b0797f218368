// netpol_probe's words and exit codes against a kernel that accepts, refuses, rejects (as
// quasar's policy does: icmp-admin-prohibited) and drops. Runs in the test's own network
// namespace (tests/in-netns.sh: only loopback; iptables there, never in the root namespace).

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/netpol/cluster.h"
#include "tests/spawn.h"
#include "tests/testbed.h"

namespace quasar::tests::netpol {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kProbe = QUASAR_BIN_DIR "/netpol_probe";

class ProbeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* ns = getenv("QUASAR_TEST_NETNS");
    netns_ = ns ? ns : "";
    if (netns_.empty()) return;  // SetUp fails the cases: iptables must not touch this namespace
    dir_ = (std::filesystem::temp_directory_path() / ("netpol-probe-" + std::to_string(getpid())))
               .string();
    std::filesystem::create_directories(dir_);
    server_ = spawnBackground({kProbe, "serve", "--tcp", "80,81,83", "--udp", "80,81,83",
                               "--ready-file", dir_ + "/ready"},
                              dir_ + "/server.log");
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!std::filesystem::exists(dir_ + "/ready") && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Port 81 rejected as quasar's policy does; 83 dropped.
    rules_ =
        sh("iptables -w -A INPUT -p tcp --dport 81 -j REJECT --reject-with "
           "icmp-admin-prohibited && iptables -w -A INPUT -p udp --dport 81 -j REJECT "
           "--reject-with icmp-admin-prohibited && iptables -w -A INPUT -p tcp --dport 83 "
           "-j DROP && iptables -w -A INPUT -p udp --dport 83 -j DROP");
  }
  static void TearDownTestSuite() {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    ASSERT_FALSE(netns_.empty()) << "run through tests/in-netns.sh (ctest does)";
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/ready")) << "server not ready";
    ASSERT_EQ(rules_.exit_code, 0) << rules_.err;
  }

  // One probe: (exit code, word, milliseconds it took).
  struct Probe {
    int code;
    std::string word;
    long ms;
  };
  static Probe connect(const std::string& proto, int port, int timeout_ms = 1000) {
    const auto start = Clock::now();
    auto r = run({kProbe, "connect", "--proto", proto, "--to", "127.0.0.1", "--port",
                  std::to_string(port), "--timeout-ms", std::to_string(timeout_ms)});
    const long ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    std::string word = r.out;
    while (!word.empty() && word.back() == '\n') word.pop_back();
    return {r.exit_code, word, ms};
  }

  static inline std::string netns_, dir_;
  static inline pid_t server_ = -1;
  static inline CmdResult rules_;
};

TEST_F(ProbeTest, AServedPortIsOk) {
  for (const char* proto : {"tcp", "udp"}) {
    auto p = connect(proto, 80);
    EXPECT_EQ(p.code, 0) << proto;
    EXPECT_EQ(p.word, "ok") << proto;
  }
}

TEST_F(ProbeTest, APortWithoutServerIsRejectedAtOnce) {
  for (const char* proto : {"tcp", "udp"}) {
    auto p = connect(proto, 82, 5000);
    EXPECT_EQ(p.code, 1) << proto;
    EXPECT_EQ(p.word, "rejected") << proto;
    EXPECT_LT(p.ms, 2500) << proto << ": a refusal is an answer, not a timeout";
  }
}

TEST_F(ProbeTest, AnAdminProhibitedRejectIsRejectedAtOnce) {
  for (const char* proto : {"tcp", "udp"}) {
    auto p = connect(proto, 81, 5000);
    EXPECT_EQ(p.code, 1) << proto;
    EXPECT_EQ(p.word, "rejected") << proto;
    EXPECT_LT(p.ms, 2500) << proto;
  }
}

TEST_F(ProbeTest, ADropTimesOut) {
  for (const char* proto : {"tcp", "udp"}) {
    auto p = connect(proto, 83, 300);
    EXPECT_EQ(p.code, 2) << proto;
    EXPECT_EQ(p.word, "timeout") << proto;
  }
}

TEST_F(ProbeTest, MatrixAnswersEveryLineInOrderInTheNamedNamespace) {
  const std::string ns = " /run/netns/" + netns_;
  const std::string input = "tcp 127.0.0.1 80" + ns + "\nudp 127.0.0.1 81" + ns +
                            "\ntcp 127.0.0.1 83" + ns + "\nudp 127.0.0.1 80\n";
  const auto start = Clock::now();
  auto r = run({kProbe, "matrix", "--timeout-ms", "500"}, input);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tcp 127.0.0.1 80" + ns + " ok\nudp 127.0.0.1 81" + ns +
                       " rejected\ntcp 127.0.0.1 83" + ns + " timeout\nudp 127.0.0.1 80 ok\n");
  // In parallel: one timeout's worth, not the sum.
  EXPECT_LT(ms, 1500);
}

TEST_F(ProbeTest, SctpWithoutKernelSupportIsAnErrorNotARejection) {
  std::string why;
  if (kernelHasSctp(&why)) GTEST_SKIP() << "this kernel has SCTP";
  auto p = connect("sctp", 80);
  EXPECT_EQ(p.code, 3);
  EXPECT_EQ(p.word.rfind("error:", 0), 0u) << p.word;
}

}  // namespace
}  // namespace quasar::tests::netpol
