#!/usr/bin/env bash
# Fails when a folder includes a header its layer may not use (docs/architecture.md, STYLE.md).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
fail=0
check() {  # folder, forbidden include pattern, why[, a file glob to leave out]
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$1" --include='*.h' --include='*.cc' \
    --exclude="${4:-/}" 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "layering: $1 may not include ($2): $3"; echo "$hits"; fail=1
  fi
}
only() {  # include pattern, the only files (regex over paths) that may include it, why
  local hits
  hits=$(grep -rlE "^#include [<\"]($1)" conf routing ipam netpolicy daemon cni \
    --include='*.h' --include='*.cc' | grep -vE "^($2)$" || true)
  if [ -n "$hits" ]; then echo "layering: only $3:"; echo "$hits"; fail=1; fi
}
check conf    'routing/|ipam/|netpolicy/|daemon/|cni/' 'conf/ is the bottom layer'
check routing 'ipam/|netpolicy/|daemon/|cni/|sqlite3|grpc' 'routing/ may use only conf/'
check ipam    'routing/|netpolicy/|daemon/|cni/|sqlite3|grpc|curl/' \
  'ipam/ may use only conf/; it declares the interfaces daemon/ implements' 'http_transport.cc'
check netpolicy 'routing/|ipam/|daemon/|cni/|sqlite3|grpc|curl/' \
  'netpolicy/ may use only conf/; it declares the interfaces daemon/ implements'
check cni     'ipam/|netpolicy/|daemon/(store|cluster|agents|ctl|kube|metrics)/|daemon/api/[a-z_]*(service|server)|sqlite3|grpc|curl/' \
  'cni/ may use conf/, routing/ and the daemon API messages (daemon/api/quasard.pb.h, plugin_wire.h), not gRPC'
# Inside daemon/, layers point downwards: store <- cluster <- agents <- api <- the wiring.
# (The backends' contract suite also drives the cluster model's reclaiming over both backends.)
check daemon/store   'daemon/(cluster|agents|api|ctl|kube|metrics)/' \
  "the datastore is daemon/'s bottom layer" '*_test.cc'
check daemon/cluster 'daemon/(agents|api|ctl)/' 'the cluster model knows no agents or API'
check daemon/cluster/objects \
  'daemon/(store|agents|api|ctl|kube|metrics)/|daemon/cluster/[a-z_]+\.h|routing/|ipam/|netpolicy/|grpc|sqlite3|curl/' \
  'the typed objects are pure values and parsers over conf/'
check daemon/agents  'daemon/(api|ctl)/' 'agents know no API'
for d in conf ipam daemon cni; do
  check "$d" 'libmnl|linux/rtnetlink|linux/netlink|linux/if_link' 'only routing/ speaks netlink'
done
# netpolicy/ speaks netfilter's own netlink subsystem (libipset; nftables' generation and filter
# table), never rtnetlink.
check netpolicy 'libmnl|linux/rtnetlink|linux/netlink|linux/if_link' \
  'only routing/ speaks rtnetlink; netpolicy/kernel/nft_*.cc read nftables' \
  'nft_*.cc'
only 'linux/netfilter/nfnetlink|linux/netfilter/nf_tables' \
  'netpolicy/kernel/nft_[a-z_]+\.cc' 'the nftables readers (netpolicy/kernel/nft_*) speak nfnetlink'
only 'sqlite3' 'daemon/store/[a-z_]+\.(h|cc)' 'the datastore (daemon/store/) sees SQLite'
only 'daemon/store/etcd/|etcd' 'daemon/store/etcd_store\.(h|cc)' 'the etcd backend sees etcd'"'"'s API'
only 'curl/' 'daemon/kube/[a-z_]+\.(h|cc)|daemon/metrics/[a-z_]+_test\.cc|ipam/cloud/http_transport\.cc' \
  'the Kubernetes API source (daemon/kube/) and the cloud backend'"'"'s transport (ipam/cloud/) speak HTTP (and the metrics tests, as a client)'
only 'libipset/' 'netpolicy/kernel/linux_policy_kernel\.cc' 'the policy kernel adapter speaks libipset'
only 'microhttpd' 'daemon/metrics/http_server\.cc' 'the metrics endpoint serves HTTP'
[ "$fail" -eq 0 ] && echo "layering: ok"
exit "$fail"
