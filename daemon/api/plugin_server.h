#pragma once
// quasard's listener for the CNI plugin (the length-prefixed PluginRequest transport described
// in daemon/api/quasard.proto). Each call goes to the same QuasardService methods the gRPC API uses, so both
// transports behave alike by construction.
//
// Threading: one accept thread; each connection is served on its own thread (at most
// kMaxConnections at once; beyond that a connection is closed and the plugin reports "try again
// later"). A connection that sends nothing for 10 s is closed. Every thread is owned: the accept
// thread joins the connections that ended, and stop() closes the listener, ends the reading side
// of every open connection (a request in flight still gets its answer) and joins them all, so
// no thread uses the server or the service after stop() returns.

#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "daemon/api/quasard_service.h"
#include "daemon/metrics/quasard_metrics.h"
#include "routing/fd.h"

namespace quasar::daemon {

class PluginServer {
 public:
  static constexpr int kMaxConnections = 256;

  explicit PluginServer(QuasardService& service) : service_(service) {}
  ~PluginServer() { stop(); }

  // Binds `path` (mode 0600, a stale socket file is replaced) and starts accepting.
  absl::Status start(const std::string& path);
  void stop();
  // Every call is counted by command and result, and timed to its final answer
  // (quasar_cni_request_*). Call before start(); the metrics must outlive the server.
  void setMetrics(metrics::CallMetrics* cni) { metrics_ = cni; }

 private:
  // One client connection and the thread serving it.
  struct Connection {
    routing::Fd fd;     // under mu_; closed by its thread when it ends
    bool done = false;  // under mu_; the thread has nothing left to do but exit
    std::thread thread;
  };

  void acceptLoop();
  void serve(Connection& conn);
  // Under mu_: joins the threads of connections that ended; returns how many are still open.
  int reapLocked();
  // `conn` receives the early answer of an allocate with reply_before_commit.
  quasar::api::v1::PluginReply dispatch(const quasar::api::v1::PluginRequest& req, int conn);
  // An ADD's connection claims its attachment (AllocateRequest::claim in the manager) from
  // quasard's first answer until the connection closes: a concurrent ADD or DEL of it is told
  // to try again later. The claim token is per connection; a release on the same connection
  // (the ADD's rollback) holds it.
  uint64_t claimOf(int conn);
  void endClaims(int conn);

  QuasardService& service_;
  metrics::CallMetrics* metrics_ = nullptr;
  std::string path_;
  routing::Fd listener_;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::list<Connection> connections_;  // the acceptor adds and removes; stable addresses
  std::mutex claims_mu_;
  uint64_t last_claim_ = 0;
  struct Claims {
    uint64_t token = 0;
    std::vector<quasar::api::v1::Attachment> attachments;
  };
  std::map<int, Claims> claims_;  // by connection fd, while it is open
};

}  // namespace quasar::daemon
