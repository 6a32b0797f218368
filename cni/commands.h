#pragma once
// The plugin's commands. Each returns a Status whose code cni/errors.h maps to the spec's code.
// Contracts:
//  ADD   creates the data path or leaves nothing behind: no veth, and no address it allocated.
//  DEL   is idempotent and needs neither the netns nor a previous ADD. quasard releases the
//        address and removes the node-side veth after answering (the address is held until the
//        veth is gone). While quasard is down DEL fails with "try again later" (11) so the
//        runtime retries; the release is never dropped.
//  CHECK compares the kernel and quasard's record with prevResult.
//  GC    releases what is not in cni.dev/valid-attachments, and removes its veths. Without the
//        key it is refused (code 7).
//  STATUS is OK when quasard answers and has a free address; otherwise code 50.

#include "absl/status/statusor.h"
#include "cni/env.h"
#include "conf/net_conf.h"
#include "nlohmann/json.hpp"

namespace quasar::cni {

struct Invocation {
  CniEnv env;
  conf::NetConf conf;
};

absl::StatusOr<nlohmann::json> cmdAdd(const Invocation& inv);
absl::Status cmdDel(const Invocation& inv);
absl::Status cmdCheck(const Invocation& inv);
absl::Status cmdGc(const Invocation& inv);
absl::Status cmdStatus(const Invocation& inv);

}  // namespace quasar::cni
