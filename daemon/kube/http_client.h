#pragma once
// HTTPS to the Kubernetes API server over libcurl: HTTP/2 where the server offers it (ALPN),
// HTTP/1.1 otherwise; the server verified against KubeConfig's CA; a client certificate or a
// bearer token (re-read when its file rotates; on a 401 the file is re-read at once and the
// call retried once with the new token).
//
// Threading: every method is thread-safe. A call takes a curl handle pair (multi + easy, with
// its connection cache) from a small pool, so a thread never shares a handle and sequential
// calls reuse their connection; a stream holds its pair until it ends.
//
// Deadlines: every call has a connect timeout and a total deadline; streams also have an idle
// timeout (no byte for that long: the connection is taken as dead). A Canceller aborts calls
// and streams from another thread at once (curl_multi_wakeup), for prompt shutdown.
//
// Errors: see api_status.h (HTTP answers); transport failures are Unavailable (timeouts:
// DeadlineExceeded), a fired Canceller is Cancelled. Never throws.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/kube/kube_config.h"

namespace quasar::kube {

// A stop signal for transfers. cancel() is final: it aborts every call and stream running
// under this Canceller and every later one, from any thread, without waiting for a timeout.
class Canceller {
 public:
  Canceller() = default;
  Canceller(const Canceller&) = delete;
  Canceller& operator=(const Canceller&) = delete;

  void cancel();
  bool cancelled() const;

 private:
  friend class HttpClient;
  // Transfers register their multi handle (a void* to keep curl out of this header) while they
  // run, so cancel() can wake their poll.
  void add(void* multi) const;
  void remove(void* multi) const;

  mutable std::mutex mu_;
  mutable std::set<void*> multis_;
  bool cancelled_ = false;
};

class HttpClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
    // The total deadline of a call whose Request::timeout is 0.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
    // How often the token file is checked for a rotated token (stat).
    std::chrono::milliseconds token_check_interval{std::chrono::seconds(5)};
    // Larger bodies fail the call (ResourceExhausted).
    size_t max_body_bytes = size_t{512} << 20;
    std::string user_agent = "quasard";
  };

  struct Request {
    std::string method = "GET";
    // Path and query, from the server's root: "/api/v1/pods?limit=500".
    std::string path;
    std::string body;
    std::string content_type;  // with a body: application/json, application/merge-patch+json
    // Total deadline; 0: Options::request_timeout.
    std::chrono::milliseconds timeout{0};
    // Streams: abort when no byte arrived for this long (0: no idle limit). Whole seconds.
    std::chrono::seconds idle_timeout{0};
  };

  struct Response {
    long code = 0;
    std::string body;
  };

  // Checks the config (an https server) and keeps it. Never fails for an unreachable server.
  static absl::StatusOr<std::shared_ptr<HttpClient>> create(KubeConfig config, Options options);
  static absl::StatusOr<std::shared_ptr<HttpClient>> create(KubeConfig config) {
    return create(std::move(config), Options{});
  }
  ~HttpClient();

  // One request. A 2xx answer is returned; any other is the mapped error (api_status.h).
  absl::StatusOr<Response> call(const Request& request, const Canceller* cancel = nullptr);

  // Streams the body of a 2xx answer to `on_data` as it arrives (chunks of any size). Returns
  // OK when the server ended the body, on_data's error when it returned one (the transfer is
  // then aborted), the mapped error for a non-2xx answer (on_data is not called), Cancelled,
  // or the transport error.
  using DataFn = std::function<absl::Status(absl::string_view chunk)>;
  absl::Status stream(const Request& request, const DataFn& on_data,
                      const Canceller* cancel = nullptr);

  const KubeConfig& config() const { return config_; }

 private:
  struct Conn;
  struct Outcome;
  HttpClient(KubeConfig config, Options options);
  Outcome perform(Conn& conn, const Request& request, const std::string& token,
                  const DataFn* on_data, const Canceller* cancel);
  Outcome performWithAuth(const Request& request, const DataFn* on_data, const Canceller* cancel);
  std::unique_ptr<Conn> takeConn();
  void giveBack(std::unique_ptr<Conn> conn);

  const KubeConfig config_;
  const Options options_;
  TokenSource tokens_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> pool_;
};

}  // namespace quasar::kube
