#pragma once
// quasard's configuration file (YAML), parsed and validated. See conf/quasard.yaml for the
// commented reference.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "conf/eni_config.h"
#include "conf/ip.h"
#include "conf/net_conf.h"
#include "conf/routing_mode.h"

namespace quasar::conf {

// Where the cluster state (nodes, blocks) lives.
struct DatastoreConfig {
  enum class Type { kSqlite, kEtcd };
  Type type = Type::kSqlite;                 // sqlite: <stateDir>/cluster.db, this node only
  std::vector<std::string> endpoints;        // etcd: host:port, tried in order
  std::string prefix = "/quasar/";           // etcd: key prefix, one per cluster
  std::string ca_file, cert_file, key_file;  // etcd TLS (all or none)
};

// Where Kubernetes objects (nodes, namespaces, pods, policies) come from when the config has a
// `kubernetes` section: the API server, reached in-cluster (service account) or through a
// kubeconfig file. Without it they come from the datastore (quasarctl apply).
struct KubernetesConfig {
  std::string kubeconfig;  // empty: in-cluster
};

// quasar: podCIDRs (static) or clusterCIDR (blocks claimed in the datastore). kubernetes: the
// node's Node.spec.podCIDRs, as kube-controller-manager assigns them.
enum class IpamMode { kQuasar, kKubernetes };

struct DaemonConfig {
  // Defaults to the host name.
  std::string node_name;
  // gRPC API (quasarctl and tools).
  std::string socket = kDefaultSocket;
  // The CNI plugin's transport (see daemon/api/quasard.proto, PluginRequest).
  std::string cni_socket = kDefaultCniSocket;
  std::string state_dir = "/var/lib/quasar";
  // Either static pod CIDRs for this node (podCIDRs), or the cluster CIDR that nodes claim
  // blocks of (clusterCIDR + blockSize). IPv4 only for now; the allocator is family-agnostic.
  std::vector<IpPrefix> pod_cidrs;
  std::optional<IpPrefix> cluster_cidr;
  int block_size = 26;
  // A block idle (no used or cooling address) this long is given back; the last one is kept.
  std::chrono::seconds block_release_grace{300};
  // The blocks of a node whose registration (live/<name>) has been gone this long are
  // reclaimed by the other nodes (docs/datastore.md); 0: never. At least 3 x node_ttl.
  std::chrono::seconds node_gone_grace{3600};
  DatastoreConfig datastore;
  std::optional<KubernetesConfig> kubernetes;
  IpamMode ipam = IpamMode::kQuasar;
  // This node's underlay address; empty: the uplink's first address.
  std::string node_ip;
  std::map<std::string, std::string> labels;
  std::chrono::seconds node_ttl{10};
  // Addresses inside the pod CIDRs that are never handed out.
  std::vector<IpAddress> reserved;
  // How long a released IP rests before it is handed out again.
  std::chrono::milliseconds release_cooldown{std::chrono::seconds(30)};
  // How often quasard's floating-IP housekeeping runs: it releases leases of attachments the
  // node does not hold and frees what the release policies no longer keep (a deleted
  // workload's, a scaled-down one's beyond its replicas).
  std::chrono::milliseconds floating_housekeeping{std::chrono::seconds(10)};
  // The node's uplink interface; empty means the interface of the default route.
  std::string uplink;
  RoutingMode routing_mode = RoutingMode::kIpipCrossSubnet;
  // Masquerade pod traffic that leaves the cluster's pod CIDRs.
  bool nat_outgoing = true;
  // Enforce NetworkPolicy (both kinds) with iptables and ipset (docs/network-policy.md). Off:
  // no quasar chain or set is installed, and those of an earlier run are removed.
  bool network_policy = true;
  // ENI multi-IP IPAM on the nodes it selects (conf/eni_config.h, docs/eni.md); absent: off.
  std::optional<EniConfig> eni;
  // Pod MTU; 0 means the uplink's MTU minus the routing mode's overhead.
  int mtu = 0;
  std::string log_level = "info";
  // Where /healthz, /readyz and /metrics are served over HTTP: "host:port" with an IPv4
  // literal or "[IPv6]:port"; empty: not served.
  std::string metrics_address = "127.0.0.1:9617";
};

// Parses YAML text. Errors are InvalidArgument and name the field.
absl::StatusOr<DaemonConfig> parseDaemonConfig(absl::string_view yaml);
absl::StatusOr<DaemonConfig> loadDaemonConfig(const std::string& path);

}  // namespace quasar::conf
