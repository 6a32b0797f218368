#pragma once
// The plugin's side of quasard's API: one channel over the unix socket, a deadline per call, and
// gRPC statuses turned into absl ones (a daemon that is not there is Unavailable, which the
// plugin reports as "try again later").

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ipam/ipam.grpc.pb.h"

namespace quasar::cni {

class DaemonClient {
 public:
  DaemonClient(const std::string& socket, int timeout_ms);

  absl::StatusOr<quasar::ipam::v1::AllocateReply> allocate(
      const quasar::ipam::v1::AllocateRequest& req);
  // With `host_ifname`, quasard also removes that node-side veth (after answering).
  absl::StatusOr<quasar::ipam::v1::ReleaseReply> release(const std::string& container_id,
                                                         const std::string& ifname,
                                                         const std::string& host_ifname = "");
  absl::StatusOr<quasar::ipam::v1::Allocation> get(const std::string& container_id,
                                                   const std::string& ifname);
  absl::StatusOr<quasar::ipam::v1::ListReply> list();
  absl::StatusOr<quasar::ipam::v1::GcReply> gc(const quasar::ipam::v1::GcRequest& req);
  absl::StatusOr<quasar::ipam::v1::StatusReply> status();

 private:
  std::unique_ptr<grpc::ClientContext> context() const;
  absl::Status convert(const grpc::Status& s, const char* call) const;

  std::string socket_;
  int timeout_ms_;
  std::unique_ptr<quasar::ipam::v1::Ipam::Stub> stub_;
};

}  // namespace quasar::cni
