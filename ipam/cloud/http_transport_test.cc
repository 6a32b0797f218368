// The libcurl transport against a small HTTP server on loopback, inside a network namespace
// of its own (tests/in-netns.sh): what goes on the wire, and how failures are classified.
#include "ipam/cloud/http_transport.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace quasar::ipam::cloud {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Serves one request per connection on 127.0.0.1: `respond` gets the raw request and returns
// the raw answer, or nullopt to hold the connection open until the server stops.
class LoopbackServer {
 public:
  using Respond = std::function<std::optional<std::string>(const std::string&)>;

  explicit LoopbackServer(Respond respond) : respond_(std::move(respond)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << errno;
    EXPECT_EQ(listen(listen_.fd, 8), 0) << errno;
    socklen_t len = sizeof(a);
    getsockname(listen_.fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(pipe(stop_), 0) << errno;
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    (void)!write(stop_[1], "x", 1);
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
  }

  std::string url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  // False when the server is stopping.
  bool waitReadable(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    return poll(p, 2, -1) > 0 && (p[1].revents & POLLIN) == 0;
  }

  void serve() {
    while (waitReadable(listen_.fd)) {
      Fd conn(accept(listen_.fd, nullptr, nullptr));
      if (conn.fd < 0) continue;
      std::string req;
      char buf[4096];
      size_t want = std::string::npos;
      while (want == std::string::npos || req.size() < want) {
        if (!waitReadable(conn.fd)) return;
        ssize_t n = read(conn.fd, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, n);
        if (size_t end = req.find("\r\n\r\n"); want == std::string::npos && end != req.npos) {
          size_t body = 0;
          if (size_t cl = req.find("Content-Length: "); cl != req.npos) {
            (void)absl::SimpleAtoi(req.substr(cl + 16, req.find("\r\n", cl) - cl - 16), &body);
          }
          want = end + 4 + body;
        }
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      std::optional<std::string> answer = respond_(req);
      if (!answer.has_value()) {
        waitReadable(stop_[0]);  // hold until the test ends
        return;
      }
      (void)!write(conn.fd, answer->data(), answer->size());
    }
  }

  Respond respond_;
  Fd listen_{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  int port_ = 0;
  int stop_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string answer(int code, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", code, " X\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

TEST(CurlTransport, PostSendsExactlyTheGivenHeadersAndBody) {
  LoopbackServer server([](const std::string&) { return answer(200, "<ok/>"); });
  auto transport = makeCurlTransport({});
  HttpRequest req;
  req.method = "POST";
  req.url = server.url("/");
  req.direct = true;
  req.headers = {{"Host", "ec2.us-east-1.amazonaws.com"},
                 {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"X-Amz-Date", "20150830T123600Z"}};
  req.body = std::string("Action=DescribeInstances&Version=2016-11-15&Pad=") +
             std::string(2000, 'a');  // long enough that curl would otherwise Expect: 100
  auto resp = transport->send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "<ok/>");
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string wire = server.requests()[0];
  EXPECT_TRUE(absl::StartsWith(wire, "POST / HTTP/1.1\r\n")) << wire;
  EXPECT_THAT(wire, HasSubstr("\r\nHost: ec2.us-east-1.amazonaws.com\r\n"));
  EXPECT_THAT(wire, HasSubstr("\r\nContent-Type: application/x-www-form-urlencoded; "
                              "charset=utf-8\r\n"));
  EXPECT_THAT(wire, HasSubstr("\r\nX-Amz-Date: 20150830T123600Z\r\n"));
  EXPECT_THAT(wire, Not(HasSubstr("Expect:")));
  EXPECT_TRUE(absl::EndsWith(wire, "\r\n\r\n" + req.body));
}

TEST(CurlTransport, PutWithoutBodyAndErrorStatusesAreResponses) {
  LoopbackServer server([](const std::string&) { return answer(401, "no token"); });
  auto transport = makeCurlTransport({});
  HttpRequest req;
  req.method = "PUT";
  req.url = server.url("/latest/api/token");
  req.direct = true;
  req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  auto resp = transport->send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 401);
  EXPECT_EQ(resp->body, "no token");
  const std::string wire = server.requests().at(0);
  EXPECT_TRUE(absl::StartsWith(wire, "PUT /latest/api/token HTTP/1.1\r\n")) << wire;
  EXPECT_THAT(wire, HasSubstr("\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
  EXPECT_THAT(wire, HasSubstr("\r\nContent-Length: 0\r\n"));
  EXPECT_THAT(wire, Not(HasSubstr("Content-Type")));
}

TEST(CurlTransport, TimeoutAfterSendingIsDeadlineExceeded) {
  LoopbackServer server([](const std::string&) { return std::nullopt; });  // never answers
  auto transport = makeCurlTransport({});
  HttpRequest req;
  req.url = server.url("/slow");
  req.direct = true;
  req.timeout = std::chrono::milliseconds(300);
  auto resp = transport->send(req);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kDeadlineExceeded) << resp.status();
  EXPECT_EQ(server.requests().size(), 1u);  // it did reach the server
}

TEST(CurlTransport, RefusedConnectionIsUnavailable) {
  int port = 0;
  {
    LoopbackServer gone([](const std::string&) { return answer(200, ""); });
    port = std::stoi(gone.url("").substr(std::string("http://127.0.0.1:").size()));
  }  // closed: nothing listens there any more
  auto transport = makeCurlTransport({});
  HttpRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", port, "/");
  req.direct = true;
  auto resp = transport->send(req);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
}

TEST(CurlTransport, BodyOverTheLimitIsResourceExhausted) {
  LoopbackServer server([](const std::string&) { return answer(200, std::string(5000, 'x')); });
  CurlTransportOptions options;
  options.max_body_bytes = 1000;
  auto transport = makeCurlTransport(options);
  HttpRequest req;
  req.url = server.url("/");
  req.direct = true;
  EXPECT_EQ(transport->send(req).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(CurlTransport, EnvironmentProxyAppliesUnlessDirect) {
  LoopbackServer server([](const std::string&) { return answer(200, "direct"); });
  int dead_port = 0;
  {
    LoopbackServer gone([](const std::string&) { return answer(200, ""); });
    dead_port = std::stoi(gone.url("").substr(std::string("http://127.0.0.1:").size()));
  }
  const std::string proxy = absl::StrCat("http://127.0.0.1:", dead_port);
  ASSERT_EQ(setenv("http_proxy", proxy.c_str(), 1), 0);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  auto transport = makeCurlTransport({});
  HttpRequest req;
  req.url = server.url("/");
  auto via_proxy = transport->send(req);
  req.direct = true;
  auto direct = transport->send(req);
  unsetenv("http_proxy");
  EXPECT_EQ(via_proxy.status().code(), absl::StatusCode::kUnavailable) << via_proxy.status();
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(direct->body, "direct");
  EXPECT_EQ(server.requests().size(), 1u);
}

}  // namespace
}  // namespace quasar::ipam::cloud
