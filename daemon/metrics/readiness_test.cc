#include "daemon/metrics/readiness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/metrics/http_server.h"

namespace quasar::metrics {
namespace {

TEST(Readiness, NotReadyWithoutChecks) {
  Readiness r;
  const auto report = r.evaluate();
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(report.text, "no readiness check is registered yet\nreadyz check failed\n");
}

TEST(Readiness, ReadyOnlyWhenEveryCheckPassesAndSaysWhichFail) {
  Readiness r;
  bool routes = false;
  auto a = r.add("cluster-view", [] { return absl::OkStatus(); });
  auto b = r.add("routes", [&]() -> absl::Status {
    return routes ? absl::OkStatus() : absl::UnavailableError("no reconcile has succeeded yet");
  });
  auto report = r.evaluate();
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(report.text,
            "[+]cluster-view ok\n[-]routes failed: no reconcile has succeeded yet\n"
            "readyz check failed\n");
  routes = true;
  report = r.evaluate();
  EXPECT_TRUE(report.ready);
  EXPECT_EQ(report.text, "[+]cluster-view ok\n[+]routes ok\nreadyz check passed\n");
}

TEST(Readiness, AFailingCheckStopsCountingOnceItsRegistrationEnds) {
  Readiness r;
  auto ok = r.add("a", [] { return absl::OkStatus(); });
  {
    auto failing = r.add("b", [] { return absl::InternalError("broken"); });
    EXPECT_FALSE(r.evaluate().ready);
  }
  EXPECT_TRUE(r.evaluate().ready);
}

// Ending a registration waits for an evaluation in flight (TSan checks the rest).
TEST(Readiness, RemovalWaitsForAnEvaluationInFlight) {
  Readiness r;
  std::atomic<bool> stop{false};
  std::thread evaluator([&] {
    while (!stop) r.evaluate();
  });
  for (int i = 0; i < 200; ++i) {
    auto value = std::make_unique<int>(i);
    auto reg = r.add(
        "n", [&value] { return *value == -1 ? absl::InternalError("never") : absl::OkStatus(); });
    reg.reset();
    value.reset();  // the check uses it: safe only because reset() waited
  }
  stop = true;
  evaluator.join();
}

TEST(ListenAddress, ParsesIpv4AndBracketedIpv6) {
  auto v4 = parseListenAddress("127.0.0.1:9617");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->addr.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in&>(v4->addr).sin_port), 9617);
  auto v6 = parseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->addr.ss_family, AF_INET6);
  EXPECT_TRUE(parseListenAddress("0.0.0.0:65535").ok());
}

TEST(ListenAddress, RefusesNamesAndMalformedInput) {
  for (const char* bad :
       {"", "127.0.0.1", "localhost:9617", "::1:9617", "[::1]9617", "[::1]:", "1.2.3.4:65536",
        "1.2.3.4:-1", "1.2.3.4:9x", ":9617", "[1.2.3.4]:1", "1.2.3.400:80"}) {
    auto a = parseListenAddress(bad);
    EXPECT_FALSE(a.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(a.status())) << bad;
  }
}

}  // namespace
}  // namespace quasar::metrics
