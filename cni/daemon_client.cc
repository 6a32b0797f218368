#include "cni/daemon_client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/strings/str_cat.h"
#include "cni/errors.h"
#include "daemon/api/plugin_wire.h"

namespace quasar::cni {

namespace pb = quasar::api::v1;

absl::Status DaemonClient::connect() {
  sockaddr_un addr{};
  if (socket_.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", socket_));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_.c_str(), socket_.size());
  routing::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("quasard is not reachable on ", socket_, ": ", strerror(errno)));
  }
  conn_ = std::move(fd);
  return absl::OkStatus();
}

absl::Status DaemonClient::send(const pb::PluginRequest& req, const char* what) {
  if (!conn_.valid()) {
    if (auto s = connect(); !s.ok()) return s;
  }
  if (auto s = api::writeFrame(conn_.get(), req); !s.ok()) {
    conn_.reset();
    return absl::UnavailableError(
        absl::StrCat("quasard ", what, " on ", socket_, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<pb::PluginReply> DaemonClient::call(const pb::PluginRequest& req, const char* what) {
  if (auto s = send(req, what); !s.ok()) return s;
  return receive(what);
}

absl::StatusOr<pb::PluginReply> DaemonClient::receive(const char* what) {
  pb::PluginReply reply;
  if (auto s = api::readFrame(conn_.get(), reply); !s.ok()) {
    conn_.reset();
    // quasard went away mid-call (or never answered): the outcome is unknown, the call is
    // idempotent, so "try again later" is right.
    const auto code = absl::IsDeadlineExceeded(s) ? s.code() : absl::StatusCode::kUnavailable;
    return absl::Status(code,
                        absl::StrCat("quasard ", what, " on ", socket_, ": ",
                                     absl::IsNotFound(s) ? "connection closed" : s.message()));
  }
  if (reply.code() != 0) {
    absl::Status s(static_cast<absl::StatusCode>(reply.code()),
                   absl::StrCat("quasard ", what, ": ", reply.message()));
    if (const int code = codeForReason(reply.reason()); code != 0) {
      return withCode(std::move(s), static_cast<CniCode>(code));
    }
    return s;
  }
  return reply;
}

absl::Status DaemonClient::sendAllocate(pb::AllocateRequest req) {
  req.set_reply_before_commit(true);
  pb::PluginRequest r;
  *r.mutable_allocate() = std::move(req);
  return send(r, "Allocate");
}

absl::StatusOr<pb::AllocateReply> DaemonClient::receiveAllocate() {
  auto reply = receive("Allocate");
  if (!reply.ok()) return reply.status();
  awaiting_durable_ = !reply->allocate().durable();
  return reply->allocate();
}

absl::Status DaemonClient::awaitDurable() {
  if (!awaiting_durable_) return absl::OkStatus();
  awaiting_durable_ = false;
  auto reply = receive("Allocate (commit)");
  if (!reply.ok()) return reply.status();
  if (!reply->allocate().durable()) return absl::InternalError("quasard: allocation not durable");
  return absl::OkStatus();
}

absl::StatusOr<pb::ReleaseReply> DaemonClient::release(const std::string& container_id,
                                                       const std::string& ifname,
                                                       const std::string& host_ifname) {
  pb::PluginRequest r;
  auto* req = r.mutable_release();
  req->mutable_attachment()->set_container_id(container_id);
  req->mutable_attachment()->set_ifname(ifname);
  req->set_host_ifname(host_ifname);
  auto reply = call(r, "Release");
  if (!reply.ok()) return reply.status();
  return reply->release();
}

absl::StatusOr<pb::Allocation> DaemonClient::get(const std::string& container_id,
                                                 const std::string& ifname) {
  pb::PluginRequest r;
  r.mutable_get()->mutable_attachment()->set_container_id(container_id);
  r.mutable_get()->mutable_attachment()->set_ifname(ifname);
  auto reply = call(r, "Get");
  if (!reply.ok()) return reply.status();
  return reply->get();
}

absl::StatusOr<pb::ListReply> DaemonClient::list() {
  pb::PluginRequest r;
  r.mutable_list();
  auto reply = call(r, "List");
  if (!reply.ok()) return reply.status();
  return reply->list();
}

absl::StatusOr<pb::GcReply> DaemonClient::gc(const pb::GcRequest& req) {
  pb::PluginRequest r;
  *r.mutable_gc() = req;
  auto reply = call(r, "Gc");
  if (!reply.ok()) return reply.status();
  return reply->gc();
}

absl::StatusOr<pb::StatusReply> DaemonClient::status() {
  pb::PluginRequest r;
  r.mutable_status();
  auto reply = call(r, "Status");
  if (!reply.ok()) return reply.status();
  return reply->status();
}

}  // namespace quasar::cni
