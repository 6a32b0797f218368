#include "daemon/api/plugin_server.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/api/plugin_wire.h"

namespace quasar::daemon {

namespace pb = quasar::api::v1;

namespace {

// The `command` label: the plugin's CNI command behind each call.
metrics::CniCommand commandOf(const pb::PluginRequest& req) {
  switch (req.call_case()) {
    case pb::PluginRequest::kAllocate:
      return metrics::kCniAdd;
    case pb::PluginRequest::kRelease:
      return metrics::kCniDel;  // also an ADD's own rollback
    case pb::PluginRequest::kGet:
      return metrics::kCniCheck;
    case pb::PluginRequest::kGc:
      return metrics::kCniGc;
    case pb::PluginRequest::kStatus:
      return metrics::kCniStatus;
    case pb::PluginRequest::kList:
      return metrics::kCniList;
    case pb::PluginRequest::CALL_NOT_SET:
      break;
  }
  return metrics::kCniOther;
}

}  // namespace

absl::Status PluginServer::start(const std::string& path) {
  path_ = path;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", path));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  listener_ = routing::Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener_.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  ::unlink(path.c_str());
  // The umask keeps the socket private from its first moment; chmod states it.
  const mode_t old = ::umask(0077);
  const int rc = ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::umask(old);
  if (rc != 0) return absl::InternalError(absl::StrCat("bind ", path, ": ", strerror(err)));
  ::chmod(path.c_str(), 0600);
  if (::listen(listener_.get(), 512) != 0) {
    return absl::InternalError(absl::StrCat("listen ", path, ": ", strerror(errno)));
  }
  acceptor_ = std::thread([this] { acceptLoop(); });
  return absl::OkStatus();
}

void PluginServer::stop() {
  if (stopping_.exchange(true)) return;
  if (listener_.valid()) ::shutdown(listener_.get(), SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    // A connection waiting for its next request sees the end of the stream at once; one in
    // the middle of a request still writes its answer.
    std::lock_guard lock(mu_);
    for (auto& c : connections_) {
      if (c.fd.valid()) ::shutdown(c.fd.get(), SHUT_RD);
    }
  }
  // The acceptor is gone: nothing else adds to or removes from the list now.
  for (auto& c : connections_) c.thread.join();
  connections_.clear();
  listener_.reset();
  if (!path_.empty()) ::unlink(path_.c_str());
}

int PluginServer::reapLocked() {
  int open = 0;
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!it->done) {
      ++open;
      ++it;
      continue;
    }
    it->thread.join();  // already past its last use of the server
    it = connections_.erase(it);
  }
  return open;
}

void PluginServer::acceptLoop() {
  while (!stopping_) {
    routing::Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      spdlog::error("event=plugin-accept-failed error=\"{}\"", strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::lock_guard lock(mu_);
    if (const int open = reapLocked(); open >= kMaxConnections) {
      spdlog::warn("event=plugin-connection-refused active={}", open);
      continue;  // closing it makes the plugin answer "try again later"
    }
    Connection& c = connections_.emplace_back();
    c.fd = std::move(conn);
    c.thread = std::thread([this, &c] { serve(c); });
  }
}

void PluginServer::serve(Connection& conn) {
  int fd;
  {
    std::lock_guard lock(mu_);
    fd = conn.fd.get();
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  while (true) {
    pb::PluginRequest req;
    if (auto s = api::readFrame(fd, req); !s.ok()) {
      if (!absl::IsNotFound(s)) {
        spdlog::warn("event=plugin-read-failed error=\"{}\"", std::string(s.message()));
      }
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    const pb::PluginReply reply = dispatch(req, fd);
    if (metrics_) {
      metrics_->record(commandOf(req), static_cast<absl::StatusCode>(reply.code()), start);
    }
    if (auto s = api::writeFrame(fd, reply); !s.ok()) {
      spdlog::warn("event=plugin-write-failed error=\"{}\"", std::string(s.message()));
      break;
    }
  }
  // Before the descriptor closes: the claims are keyed by its number, which a new connection
  // may take once it is closed.
  endClaims(fd);
  // Closed under mu_, so stop() never shuts down a descriptor number that was reused.
  std::lock_guard lock(mu_);
  conn.fd.reset();
  conn.done = true;
}

uint64_t PluginServer::claimOf(int conn) {
  std::lock_guard lock(claims_mu_);
  auto& c = claims_[conn];
  if (c.token == 0) c.token = ++last_claim_;
  return c.token;
}

void PluginServer::endClaims(int conn) {
  Claims ended;
  {
    std::lock_guard lock(claims_mu_);
    auto it = claims_.find(conn);
    if (it == claims_.end()) return;
    ended = std::move(it->second);
    claims_.erase(it);
  }
  for (const auto& a : ended.attachments) service_.endClaim(a, ended.token);
}

pb::PluginReply PluginServer::dispatch(const pb::PluginRequest& req, int conn) {
  pb::PluginReply reply;
  grpc::Status s;
  switch (req.call_case()) {
    case pb::PluginRequest::kAllocate:
      if (req.allocate().reply_before_commit()) {
        const uint64_t claim = claimOf(conn);
        {
          // Recorded before the claim can be taken, so the connection's end always ends it.
          std::lock_guard lock(claims_mu_);
          claims_[conn].attachments.push_back(req.allocate().attachment());
        }
        s = service_.allocate(
            req.allocate(), reply.mutable_allocate(),
            [conn](const pb::AllocateReply& early) {
              pb::PluginReply r;
              *r.mutable_allocate() = early;
              // A lost early answer shows as a broken connection to the plugin, which then
              // rolls back; the commit goes on regardless.
              api::writeFrame(conn, r).IgnoreError();
            },
            claim);
      } else {
        s = service_.Allocate(nullptr, &req.allocate(), reply.mutable_allocate());
      }
      break;
    case pb::PluginRequest::kRelease:
      s = service_.release(req.release(), reply.mutable_release(), claimOf(conn));
      break;
    case pb::PluginRequest::kGet:
      s = service_.Get(nullptr, &req.get(), reply.mutable_get());
      break;
    case pb::PluginRequest::kList:
      s = service_.List(nullptr, &req.list(), reply.mutable_list());
      break;
    case pb::PluginRequest::kGc:
      s = service_.Gc(nullptr, &req.gc(), reply.mutable_gc());
      break;
    case pb::PluginRequest::kStatus:
      s = service_.Status(nullptr, &req.status(), reply.mutable_status());
      break;
    case pb::PluginRequest::CALL_NOT_SET:
      s = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty plugin request");
      break;
  }
  if (!s.ok()) {
    reply.Clear();
    reply.set_code(s.error_code());
    reply.set_message(s.error_message());
    // toGrpc (quasard_service.cc) puts the failure reason's number in the details.
    int reason = 0;
    if (absl::SimpleAtoi(s.error_details(), &reason) && pb::FailureReason_IsValid(reason)) {
      reply.set_reason(static_cast<pb::FailureReason>(reason));
    }
  }
  return reply;
}

}  // namespace quasar::daemon
