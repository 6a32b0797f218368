#pragma once
// What the routing agent routes to: every node's address, subnet, readiness and pod blocks, and
// a way to hear when that changes. Two directories exist:
//   - the cluster view (cluster_view.h): nodes registered by their quasard in the datastore,
//     with the blocks they claimed (quasar's own IPAM);
//   - the Node objects (NodeObjectDirectory below), for `ipam: kubernetes`: spec.podCIDRs as
//     kube-controller-manager assigned them, the address from quasard's own annotation
//     (quasar.io/node-ip, quasar.io/node-subnet), else the first InternalIP.
// Threading: implementations are thread-safe; `changed` runs on their threads and must be quick.

#include <functional>
#include <memory>
#include <vector>

#include "daemon/cluster/cluster_view.h"
#include "daemon/cluster/object_view.h"

namespace quasar::daemon {

class NodeDirectory {
 public:
  virtual ~NodeDirectory() = default;
  virtual std::vector<NodeView> nodes() const = 0;  // sorted by name
  // Calls `changed` after every change until the returned handle is destroyed.
  [[nodiscard]] virtual std::shared_ptr<void> onChange(std::function<void()> changed) = 0;
};

class ClusterViewDirectory final : public NodeDirectory {
 public:
  explicit ClusterViewDirectory(ClusterView& view) : view_(view) {}
  std::vector<NodeView> nodes() const override { return view_.nodes(); }
  std::shared_ptr<void> onChange(std::function<void()> changed) override {
    return std::make_shared<ClusterView::Subscription>(view_.subscribe(std::move(changed)));
  }

 private:
  ClusterView& view_;
};

class NodeObjectDirectory final : public NodeDirectory {
 public:
  static constexpr char kNodeIpAnnotation[] = "quasar.io/node-ip";
  static constexpr char kNodeSubnetAnnotation[] = "quasar.io/node-subnet";
  explicit NodeObjectDirectory(ObjectView& view) : view_(view) {}
  std::vector<NodeView> nodes() const override;
  std::shared_ptr<void> onChange(std::function<void()> changed) override;

 private:
  ObjectView& view_;
};

}  // namespace quasar::daemon
