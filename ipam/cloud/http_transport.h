#pragma once
// One HTTP exchange, behind a small interface so the EC2 client and the metadata client are
// tested with a fake (no socket), and run over libcurl in production.
//
// Any HTTP answer, 4xx and 5xx included, is a response: what a status code means is the
// caller's business. Errors are transport failures only, split by what the caller may assume:
//   Unavailable       the request did not reach the server (name resolution, connect, TLS
//                     handshake): safe to send again, whatever it does;
//   DeadlineExceeded  the timeout fired or the connection broke after the request was sent:
//                     the server may have acted on it;
//   FailedPrecondition the server's certificate is not trusted (or the CA file is unusable);
//   ResourceExhausted the answer's body is larger than the limit.
// Threading: implementations are thread-safe.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace quasar::ipam::cloud {

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT
  std::string url;             // http://169.254.169.254/latest/api/token, https://ec2...
  // Sent as given, after the transport's own; a "Host" entry replaces the URL's host.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};  // the whole exchange
  // Ignore proxies from the environment (http_proxy, HTTPS_PROXY, ...), which otherwise apply:
  // the metadata service is link-local, no proxy can reach it.
  bool direct = false;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual absl::StatusOr<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlTransportOptions {
  // PEM bundle to verify HTTPS servers with; empty: the system's.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{2000};
  size_t max_body_bytes = size_t{16} << 20;
  std::string user_agent = "quasard";
};

// HTTP and HTTPS over libcurl (peer and host always verified). Connections are kept alive in
// a small pool of handles, one handle per call in flight.
std::unique_ptr<HttpTransport> makeCurlTransport(CurlTransportOptions options);

}  // namespace quasar::ipam::cloud
