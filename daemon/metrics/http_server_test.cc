// The health and metrics endpoint over real sockets, with libcurl as the client, and promtool
// (Debian's, unpacked by scripts/setup.sh) on its exposition. Runs in a network namespace of its
// own (tests/in-netns.sh): it listens on that namespace's loopback only.

#include "daemon/metrics/http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "daemon/metrics/quasard_metrics.h"
#include "routing/fd.h"

namespace quasar::metrics {
namespace {

constexpr const char* kPromtool = "/var/cache/quasar/promtool/usr/bin/promtool";

struct Response {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string content_type;
  std::string headers;
};

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Response fetch(const std::string& url, const std::string& method = "GET") {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  Response r;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, &append);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &r.headers);
  if (method == "HEAD") {
    curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  r.code = curl_easy_perform(curl.get());
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &r.status);
  const char* type = nullptr;
  curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &type);
  if (type) r.content_type = type;
  return r;
}

// promtool's verdict on an exposition: exit code and output.
std::pair<int, std::string> promtoolCheck(const std::string& exposition) {
  char tmpl[] = "/tmp/quasar-metrics-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return {-1, "mkstemp failed"};
  ::close(fd);
  std::ofstream(tmpl) << exposition;
  const std::string cmd = std::string(kPromtool) + " check metrics < " + tmpl + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  std::filesystem::remove(tmpl);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = HttpServer::start({"127.0.0.1:0", &metrics_.registry(), &readiness_});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
    base_ = "http://" + server_->address();
  }
  QuasardMetrics metrics_;
  Readiness readiness_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(HttpServerTest, HealthzAnswersOk) {
  const auto r = fetch(base_ + "/healthz");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzIs503UntilEveryCheckPassesThen200) {
  std::atomic<bool> synced{false};
  auto check = readiness_.add("view", [&]() -> absl::Status {
    return synced ? absl::OkStatus() : absl::UnavailableError("not synced yet");
  });
  auto r = fetch(base_ + "/readyz");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "[-]view failed: not synced yet\nreadyz check failed\n");
  synced = true;
  r = fetch(base_ + "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[+]view ok\nreadyz check passed\n");
}

// Every family in use, with label values that need escaping: promtool accepts the exposition.
TEST_F(HttpServerTest, MetricsIsTheRegistryInTextFormatAndPassesPromtool) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: run scripts/setup.sh (it unpacks Debian's promtool)";
  const auto start = std::chrono::steady_clock::now();
  metrics_.cni().record(kCniAdd, absl::StatusCode::kOk, start);
  metrics_.cni().record(kCniDel, absl::StatusCode::kUnavailable, start);
  metrics_.datastore().record(kStoreTxn, absl::StatusCode::kOk, start);
  auto w = metrics_.watch("cluster");
  w.synced.set(1);
  w.relists.inc();
  w.events.inc(3);
  metrics_.reconcile("routing").runs.inc();
  metrics_.reconcile("routing").errors.inc();
  auto pools = metrics_.collectPools([] {
    return std::vector<PoolUsage>{{"10.244.1.0/24", 2, 1, 254}, {"odd \"pool\"\\\nname", 0, 0, 1}};
  });
  const auto r = fetch(base_ + "/metrics");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, metrics_.registry().expose());
  EXPECT_NE(r.body.find("quasar_cni_requests_total{command=\"ADD\",result=\"ok\"} 1\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find("quasar_cni_request_duration_seconds_bucket{command=\"ADD\",le=\"+Inf\"} 1"),
      std::string::npos);
  const auto [exit_code, out] = promtoolCheck(r.body);
  EXPECT_EQ(exit_code, 0) << out << "\n--- exposition:\n" << r.body;
}

// The check above can fail: promtool refuses what breaks its rules.
TEST(Promtool, RefusesABrokenExposition) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: run scripts/setup.sh (it unpacks Debian's promtool)";
  const auto [exit_code, out] =
      promtoolCheck("# HELP quasar_calls Calls.\n# TYPE quasar_calls counter\nquasar_calls 1\n");
  EXPECT_NE(exit_code, 0) << out;
  EXPECT_NE(out.find("_total"), std::string::npos) << out;
}

TEST_F(HttpServerTest, HeadHasTheHeadersWithoutTheBody) {
  const auto r = fetch(base_ + "/healthz", "HEAD");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_NE(r.headers.find("Content-Length: 3"), std::string::npos) << r.headers;
}

TEST_F(HttpServerTest, OtherMethodsAre405AndOtherPaths404) {
  auto r = fetch(base_ + "/metrics", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.headers.find("Allow: GET, HEAD"), std::string::npos) << r.headers;
  EXPECT_EQ(fetch(base_ + "/metrics", "DELETE").status, 405);
  EXPECT_EQ(fetch(base_ + "/").status, 404);
  EXPECT_EQ(fetch(base_ + "/healthz/extra").status, 404);
  EXPECT_EQ(fetch(base_ + "/healthz?verbose=1").status, 200);  // a query is not the path
}

TEST_F(HttpServerTest, ABoundPortIsRefusedWithTheReason) {
  auto second = HttpServer::start({server_->address(), &metrics_.registry(), &readiness_});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos)
      << second.status();
}

TEST_F(HttpServerTest, StopIsIdempotentAndClosesThePort) {
  server_->stop();
  server_->stop();
  const auto r = fetch(base_ + "/healthz");
  EXPECT_EQ(r.code, CURLE_COULDNT_CONNECT) << curl_easy_strerror(r.code);
}

TEST(HttpServer, ServesOnIpv6Loopback) {
  QuasardMetrics metrics;
  Readiness readiness;
  auto s = HttpServer::start({"[::1]:0", &metrics.registry(), &readiness});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->address().rfind("[::1]:", 0), 0u) << (*s)->address();
  const auto r = fetch("http://" + (*s)->address() + "/healthz");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
}

routing::Fd connectTo(uint16_t port) {
  routing::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return {};
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// An idle connection is closed after the timeout; beyond the limit, a connection waits in the
// listen backlog until a slot is free.
TEST(HttpServer, EnforcesTheIdleTimeoutAndTheConnectionLimit) {
  QuasardMetrics metrics;
  Readiness readiness;
  HttpServer::Options o{"127.0.0.1:0", &metrics.registry(), &readiness};
  o.connection_limit = 1;
  o.connection_timeout = std::chrono::seconds(1);
  auto s = HttpServer::start(o);
  ASSERT_TRUE(s.ok()) << s.status();

  routing::Fd idle = connectTo((*s)->port());
  ASSERT_TRUE(idle.valid());
  // The one slot is the idle connection's until the server drops it after 1 s.
  const auto start = std::chrono::steady_clock::now();
  const auto r = fetch("http://" + (*s)->address() + "/healthz");
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(waited, std::chrono::milliseconds(500));
  EXPECT_LT(waited, std::chrono::seconds(4));
  char c;
  EXPECT_EQ(::read(idle.get(), &c, 1), 0);  // already closed by the server
}

}  // namespace
}  // namespace quasar::metrics
