#include "daemon/metrics/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <spdlog/spdlog.h>
#include <string.h>

#include <cstdarg>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "routing/fd.h"

namespace quasar::metrics {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

void logFromMhd(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::warn("event=metrics-http-error error=\"{}\"", line);
}

MHD_Result respond(MHD_Connection* conn, unsigned status, const std::string& body,
                   const char* content_type, const char* allow = nullptr) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;  // out of memory: libmicrohttpd closes the connection
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  const MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

MHD_Result handle(void* cls, MHD_Connection* conn, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  size_t* /*upload_data_size*/, void** /*con_cls*/) {
  const auto& h = *static_cast<const HttpServer::Options*>(cls);
  const std::string_view m(method);
  if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
    return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", kTextPlain,
                   "GET, HEAD");
  }
  // libmicrohttpd leaves the body out of a HEAD answer and keeps its Content-Length.
  const std::string_view path(url);
  if (path == "/healthz") return respond(conn, MHD_HTTP_OK, "ok\n", kTextPlain);
  if (path == "/readyz") {
    const auto report = h.readiness->evaluate();
    return respond(conn, report.ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, report.text,
                   kTextPlain);
  }
  if (path == "/metrics") {
    return respond(conn, MHD_HTTP_OK, h.registry->expose(), Registry::kContentType);
  }
  return respond(conn, MHD_HTTP_NOT_FOUND, "not found\n", kTextPlain);
}

std::string formatAddress(const sockaddr_storage& ss, uint16_t* port) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof(host));
    *port = ntohs(a.sin6_port);
    return absl::StrCat("[", host, "]:", *port);
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
  inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
  *port = ntohs(a.sin_port);
  return absl::StrCat(host, ":", *port);
}

}  // namespace

absl::StatusOr<ListenAddress> parseListenAddress(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("listen address \"", text, "\": ", why));
  };
  std::string host;
  absl::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == absl::string_view::npos) return bad("want [IPv6 address]:port");
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("want host:port");
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("write an IPv6 address as [addr]:port");
  }
  uint32_t port = 0;
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return bad("the port must be a number in [0, 65535]");
  }
  ListenAddress a;
  if (text.front() == '[') {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.addr);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) != 1) return bad("not an IPv6 address");
    a.len = sizeof(sockaddr_in6);
  } else {
    auto& in4 = reinterpret_cast<sockaddr_in&>(a.addr);
    in4.sin_family = AF_INET;
    in4.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &in4.sin_addr) != 1) {
      return bad("the host must be an IPv4 address or [IPv6 address]");
    }
    a.len = sizeof(sockaddr_in);
  }
  return a;
}

void HttpServer::MhdStop::operator()(MHD_Daemon* d) const { MHD_stop_daemon(d); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::start(const Options& options) {
  if (!options.registry || !options.readiness) {
    return absl::InvalidArgumentError("metrics server: registry and readiness are required");
  }
  auto addr = parseListenAddress(options.address);
  if (!addr.ok()) return addr.status();
  // The socket is bound here rather than by libmicrohttpd, so a failure carries its errno.
  routing::Fd sock(::socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  const int one = 1;
  ::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr->addr.ss_family == AF_INET6) {
    ::setsockopt(sock.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("metrics server: bind ", options.address, ": ", strerror(err)));
  }
  if (::listen(sock.get(), 64) != 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("metrics server: listen ", options.address, ": ", strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", strerror(errno)));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(options));
  server->bound_ = formatAddress(bound, &server->port_);
  // libmicrohttpd gets a duplicate and owns it (it closes its listening socket when stopped);
  // ours closes when `sock` goes out of scope.
  const int mhd_fd = ::fcntl(sock.get(), F_DUPFD_CLOEXEC, 0);
  if (mhd_fd < 0) return absl::InternalError(absl::StrCat("dup: ", strerror(errno)));
  MHD_Daemon* d = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, nullptr, nullptr, &handle,
      const_cast<Options*>(&server->options_), MHD_OPTION_EXTERNAL_LOGGER, &logFromMhd, nullptr,
      MHD_OPTION_LISTEN_SOCKET, mhd_fd, MHD_OPTION_CONNECTION_LIMIT, options.connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(options.connection_timeout.count()),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(32 * 1024), MHD_OPTION_END);
  if (d == nullptr) {
    return absl::InternalError("metrics server: libmicrohttpd did not start (see its log)");
  }
  server->daemon_.reset(d);
  spdlog::info("event=metrics-serving address={}", server->bound_);
  return server;
}

void HttpServer::stop() {
  std::lock_guard lock(stop_mu_);
  daemon_.reset();
}

}  // namespace quasar::metrics
