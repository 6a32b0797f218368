#pragma once
// The NetworkPolicy compiler's model (netpolicy/compiler/model.h) from quasard's object view,
// with this node's own pods laid over it: an ADD knows a pod's address before the view does
// (the kubelet reports it later), and the pod must be in its policies' sets before the ADD
// answers. Pure function of its arguments; the view is read, never changed.
//
// - Pods: every pod of the view that has its own network (not hostNetwork, not Succeeded or
//   Failed), with status.podIPs, labels, node and named container ports. A local pod's
//   addresses replace the view's; a local pod the view does not have yet is added with the
//   labels and ports of the object its ADD found (none when it found none).
// - Namespaces: the view's, and the namespace of every pod; each carries the label
//   kubernetes.io/metadata.name=<name> as the API server sets it (the datastore source does not).
// - Nodes: the view's, with their InternalIPs; the local node also with `local.ips`.
// - Policies: networking.k8s.io/v1 and quasar.io/v1 (kind "quasar.io").

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/ip.h"
#include "daemon/cluster/object_view.h"
#include "daemon/cluster/objects/pod.h"
#include "netpolicy/compiler/model.h"

namespace quasar::daemon {

// A pod this node's quasard gave addresses to (one entry per attachment).
struct LocalPod {
  std::string namespace_;
  std::string name;
  std::vector<conf::IpAddress> ips;
  std::shared_ptr<const objects::Pod> object;  // what the ADD's lookup found; may be null
};

struct LocalNodeFacts {
  std::string name;
  std::vector<conf::IpAddress> ips;  // the node's own addresses (uplink)
};

// `local`: keyed by attachment ("<container id>/<ifname>").
netpolicy::Model buildPolicyModel(const ObjectView& view,
                                  const std::map<std::string, LocalPod>& local,
                                  const LocalNodeFacts& node);
// The one pod as buildPolicyModel() puts it in the model; nullopt when it is not there (no such
// pod, hostNetwork, finished). For pod events without building the whole model.
std::optional<netpolicy::Pod> buildPolicyPod(const ObjectView& view,
                                             const std::map<std::string, LocalPod>& local,
                                             const LocalNodeFacts& node,
                                             const std::string& namespace_,
                                             const std::string& name);

}  // namespace quasar::daemon
