#pragma once
// From the cluster's objects to the floating-IP allocator's plain values (ipam/floating/): a
// FloatingIPPool object becomes an ipam::floating::Pool, a Node object NodeFacts.
// Pure functions; thread-compatible.

#include "daemon/cluster/objects/floating_ip_pool.h"
#include "daemon/cluster/objects/node.h"
#include "ipam/floating/pool.h"

namespace quasar::daemon {

// The pool named after the object. The spec is valid (parseFloatingIPPool checked it); the
// selector's matchExpressions are not part of the pool schema and are ignored.
ipam::floating::Pool toFloatingPool(const objects::FloatingIPPool& object);
// The node's name, labels and InternalIP addresses (its underlay addresses).
ipam::floating::NodeFacts toNodeFacts(const objects::Node& node);

}  // namespace quasar::daemon
