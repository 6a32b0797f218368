#pragma once
// quasard's health and metrics endpoint over HTTP/1.1, on libmicrohttpd (Debian's
// libmicrohttpd-dev): the library parses requests and enforces the limits (connection count,
// idle timeout, request size), so none of that is hand-written here.
//   GET|HEAD /healthz  200 "ok" while the process serves.
//   GET|HEAD /readyz   200 when every readiness check passes, else 503; the body lists them.
//   GET|HEAD /metrics  the registry's exposition, text/plain; version=0.0.4.
// Any other path is 404, any other method 405.
//
// Threading: requests are served on libmicrohttpd's one internal polling thread (owned: stop()
// joins it), so a slow client costs only its own connection slot and the others wait at most
// for one exposition. The registry and the readiness checks are read from that thread.
// Ownership: the server owns its listening socket and libmicrohttpd's daemon; the registry and
// readiness must outlive it (or its stop()).

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/metrics/readiness.h"
#include "daemon/metrics/registry.h"

struct MHD_Daemon;

namespace quasar::metrics {

// "host:port" with an IPv4 literal, or "[v6]:port" with an IPv6 literal; no names (nothing is
// resolved). Port 0 asks the kernel for a free port. InvalidArgument otherwise.
struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
absl::StatusOr<ListenAddress> parseListenAddress(absl::string_view text);

class HttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1:9617";
    const Registry* registry = nullptr;    // required
    const Readiness* readiness = nullptr;  // required
    // Beyond the limit, connections wait in the kernel's listen backlog for a free slot.
    unsigned connection_limit = 16;
    std::chrono::seconds connection_timeout{10};  // an idle connection is closed after it
  };

  // Binds and starts serving. InvalidArgument for a bad address, Unavailable when the address
  // cannot be bound (in use, not on this host), Internal when libmicrohttpd fails.
  static absl::StatusOr<std::unique_ptr<HttpServer>> start(const Options& options);
  ~HttpServer() { stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the socket and joins the serving thread; a request in flight is finished first.
  // Idempotent; thread-safe.
  void stop();
  // The bound address, e.g. "127.0.0.1:40123" or "[::1]:9617" (the kernel's port for port 0).
  const std::string& address() const { return bound_; }
  uint16_t port() const { return port_; }

 private:
  struct MhdStop {
    void operator()(MHD_Daemon* d) const;
  };
  explicit HttpServer(const Options& options) : options_(options) {}

  const Options options_;
  std::string bound_;
  uint16_t port_ = 0;
  std::mutex stop_mu_;
  std::unique_ptr<MHD_Daemon, MhdStop> daemon_;
};

}  // namespace quasar::metrics
