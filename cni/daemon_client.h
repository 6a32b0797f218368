#pragma once
// The plugin's side of quasard's API, over the plugin transport (PluginRequest/PluginReply in
// daemon/api/quasard.proto on quasard's cniSocket) rather than gRPC: a gRPC client would cost the plugin
// more start-up time than the rest of an ADD (see docs/benchmarks.md). One connection, opened on
// the first call and reused; each call has the config's deadline. A daemon that is not there is
// Unavailable, which the plugin reports as "try again later".

#include <string>

#include "absl/status/statusor.h"
#include "daemon/api/quasard.pb.h"
#include "routing/fd.h"

namespace quasar::cni {

class DaemonClient {
 public:
  DaemonClient(std::string socket, int timeout_ms)
      : socket_(std::move(socket)), timeout_ms_(timeout_ms) {}

  // Allocation in steps (reply_before_commit): sendAllocate() only sends, so the caller can work
  // meanwhile; receiveAllocate() returns as soon as quasard has reserved the address;
  // awaitDurable() returns once it is on disk, or the commit's error. Success may be reported
  // to the runtime only after awaitDurable().
  absl::Status sendAllocate(quasar::api::v1::AllocateRequest req);
  absl::StatusOr<quasar::api::v1::AllocateReply> receiveAllocate();
  absl::Status awaitDurable();
  // With `host_ifname`, quasard also removes that node-side veth (after answering).
  absl::StatusOr<quasar::api::v1::ReleaseReply> release(const std::string& container_id,
                                                         const std::string& ifname,
                                                         const std::string& host_ifname = "");
  absl::StatusOr<quasar::api::v1::Allocation> get(const std::string& container_id,
                                                   const std::string& ifname);
  absl::StatusOr<quasar::api::v1::ListReply> list();
  absl::StatusOr<quasar::api::v1::GcReply> gc(const quasar::api::v1::GcRequest& req);
  absl::StatusOr<quasar::api::v1::StatusReply> status();

 private:
  absl::StatusOr<quasar::api::v1::PluginReply> call(const quasar::api::v1::PluginRequest& req,
                                                     const char* what);
  absl::Status connect();
  absl::Status send(const quasar::api::v1::PluginRequest& req, const char* what);
  absl::StatusOr<quasar::api::v1::PluginReply> receive(const char* what);

  std::string socket_;
  int timeout_ms_;
  routing::Fd conn_;
  bool awaiting_durable_ = false;
};

}  // namespace quasar::cni
