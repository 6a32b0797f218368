#!/usr/bin/env bash
# Datastore and routing benchmark, in a network namespace of its own with a real etcd on its
# loopback:
# IPAM allocations per second through quasard's gRPC API at 1 and 32 clients, on SQLite and on
# etcd (pod-CIDR blocks), beside etcd's own single-client write rate in the same run; then 1000
# simulated nodes registering and claiming blocks against one etcd, and how long a new node
# takes to reach a watching daemon; and one routing agent programming the routes to 1000
# simulated nodes, then to one more. Writes its section of docs/benchmarks.md. Needs root.
# usage: scripts/bench-store.sh [ALLOCATIONS=4000] [NODES=1000]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
allocs=${1:-4000}
nodes=${2:-1000}
"$quasar_root/scripts/setup.sh" >/dev/null
"$quasar_root/scripts/build.sh" >/dev/null
bin=$quasar_build/bin
dir=$(mktemp -d /tmp/quasar-bench-store-XXXXXX)
ns=qbs$$
cleanup() {
  quasar_stop "$dir/" || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# An uplink on the simulated nodes' subnet, for the routing measurement.
ip -n "$ns" link add up0 type veth peer name up0peer
ip -n "$ns" addr add 10.200.255.254/16 dev up0
ip -n "$ns" link set up0 up
ip -n "$ns" link set up0peer up
inns() { ip netns exec "$ns" "$@"; }

inns etcd --name=b --data-dir="$dir/etcd" --listen-client-urls=http://127.0.0.1:2379 \
  --advertise-client-urls=http://127.0.0.1:2379 --listen-peer-urls=http://127.0.0.1:2380 \
  --initial-advertise-peer-urls=http://127.0.0.1:2380 --initial-cluster=b=http://127.0.0.1:2380 \
  --log-level=error >/dev/null 2>"$dir/etcd.log" &
for _ in $(seq 100); do
  inns env ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379 endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done

for mode in sqlite etcd; do
  mkdir -p "$dir/$mode"
  {
    echo "nodeName: bench-$mode"
    echo "socket: $dir/$mode/quasard.sock"
    echo "cniSocket: $dir/$mode/cni.sock"
    echo "stateDir: $dir/$mode/state"
    echo "logLevel: warn"
    echo "metricsAddress: \"\""  # two daemons share this namespace
    if [ "$mode" = sqlite ]; then
      echo "podCIDRs: [10.0.0.0/12]"
    else
      printf 'clusterCIDR: 10.16.0.0/12\nblockSize: 26\ndatastore: {type: etcd, endpoints: [127.0.0.1:2379], prefix: /bench/}\n'
    fi
  } >"$dir/$mode/quasard.yaml"
  inns "$bin/quasard" -c "$dir/$mode/quasard.yaml" >/dev/null 2>"$dir/$mode/quasard.log" &
  for _ in $(seq 100); do [ -S "$dir/$mode/quasard.sock" ] && break; sleep 0.05; done
done

echo "measuring..." >&2
rows=$(
  inns "$bin/bench_store" ipam "$dir/sqlite/quasard.sock" 1 "$allocs" "SQLite (podCIDRs)"
  inns "$bin/bench_store" ipam "$dir/etcd/quasard.sock" 1 "$allocs" "etcd (blocks of /26)"
  inns "$bin/bench_store" etcd-writes 127.0.0.1:2379 "$allocs"
  inns "$bin/bench_store" ipam "$dir/sqlite/quasard.sock" 32 "$((allocs * 2))" "SQLite (podCIDRs)"
  inns "$bin/bench_store" ipam "$dir/etcd/quasard.sock" 32 "$((allocs * 2))" "etcd (blocks of /26)"
)
# The daemons' own routing agents would share this namespace's routes with the one measured
# (and remove the routes they do not plan). $! is the shell around `ip netns exec`: stop the
# daemons themselves, and make sure they are gone.
quasar_stop "$bin/quasard -c $dir/" 10
rows+=$'\n'$(
  inns "$bin/bench_store" simulate 127.0.0.1:2379 "$nodes" 10.64.0.0/10 26
  inns "$bin/bench_store" routes 127.0.0.1:2379 "$nodes"
)
echo "$rows"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
quasar_write_section "$quasar_root/docs/benchmarks.md" bench-store <<MD
## Datastore and routing: allocations, etcd, 1,000 simulated nodes and their routes

Command: \`scripts/bench-store.sh $allocs $nodes\` (as root), on $(date -u +%Y-%m-%d).
Machine: $(nproc) cores, $cpu. etcd $(etcd --version | head -1 | awk '{print $3}') (Debian's
etcd-server), on the benchmark namespace's loopback, with quasard on the same machine.
Allocations go through quasard's gRPC API (Allocate, durable before it returns). With etcd,
quasard claims a /26 block (one compare-and-swap Txn) when its blocks are full and allocates
inside its blocks locally, so per-pod allocation is not bound by etcd's write rate, measured on
the next line in the same run. The 32-client runs allocate after the 1-client runs (the pools
are not emptied in between). The route rows: a real routing agent (the one quasard runs) in the
benchmark's namespace, whose uplink shares the simulated nodes' subnet, programs one direct route
per remote block into the kernel; the time runs until \`ip route show proto 114\` lists them
all. Three real nodes: the next section (scripts/bench-routing.sh).

| what | amount | rate | failures |
|---|---|---|---|
$rows
MD
echo "wrote docs/benchmarks.md" >&2
