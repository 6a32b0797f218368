#include "cni/daemon_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"

namespace quasar::cni {

namespace pb = quasar::ipam::v1;

DaemonClient::DaemonClient(const std::string& socket, int timeout_ms)
    : socket_(socket), timeout_ms_(timeout_ms) {
  stub_ =
      pb::Ipam::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> DaemonClient::context() const {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  return c;
}

absl::Status DaemonClient::convert(const grpc::Status& s, const char* call) const {
  if (s.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  if (code == absl::StatusCode::kUnavailable &&
      s.error_message().find("connect") != std::string::npos) {
    return absl::UnavailableError(absl::StrCat("quasard is not reachable on ", socket_, " (", call,
                                               ": ", s.error_message(), ")"));
  }
  return absl::Status(code, absl::StrCat("quasard ", call, ": ", s.error_message()));
}

absl::StatusOr<pb::AllocateReply> DaemonClient::allocate(const pb::AllocateRequest& req) {
  pb::AllocateReply r;
  if (auto s = convert(stub_->Allocate(context().get(), req, &r), "Allocate"); !s.ok()) return s;
  return r;
}

absl::StatusOr<pb::ReleaseReply> DaemonClient::release(const std::string& container_id,
                                                       const std::string& ifname,
                                                       const std::string& host_ifname) {
  pb::ReleaseRequest req;
  req.mutable_attachment()->set_container_id(container_id);
  req.mutable_attachment()->set_ifname(ifname);
  req.set_host_ifname(host_ifname);
  pb::ReleaseReply r;
  if (auto s = convert(stub_->Release(context().get(), req, &r), "Release"); !s.ok()) return s;
  return r;
}

absl::StatusOr<pb::Allocation> DaemonClient::get(const std::string& container_id,
                                                 const std::string& ifname) {
  pb::GetRequest req;
  req.mutable_attachment()->set_container_id(container_id);
  req.mutable_attachment()->set_ifname(ifname);
  pb::Allocation r;
  if (auto s = convert(stub_->Get(context().get(), req, &r), "Get"); !s.ok()) return s;
  return r;
}

absl::StatusOr<pb::ListReply> DaemonClient::list() {
  pb::ListReply r;
  if (auto s = convert(stub_->List(context().get(), {}, &r), "List"); !s.ok()) return s;
  return r;
}

absl::StatusOr<pb::GcReply> DaemonClient::gc(const pb::GcRequest& req) {
  pb::GcReply r;
  if (auto s = convert(stub_->Gc(context().get(), req, &r), "Gc"); !s.ok()) return s;
  return r;
}

absl::StatusOr<pb::StatusReply> DaemonClient::status() {
  pb::StatusReply r;
  if (auto s = convert(stub_->Status(context().get(), {}, &r), "Status"); !s.ok()) return s;
  return r;
}

}  // namespace quasar::cni
