#!/usr/bin/env bash
# Three real nodes: how long from a node's quasard starting (it registers and claims its first
# block) until the routes to its block are in the kernel of both other nodes, and from it leaving
# (SIGTERM) until those routes are gone. etcd and three quasard nodes in namespaces on one
# bridged subnet (host-gw routes, so it runs on this machine's kernel). Writes its section of
# docs/benchmarks.md. Needs root; never touches the root namespace.
# usage: scripts/bench-routing.sh [ROUNDS=10]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
rounds=${1:-10}
"$quasar_root/scripts/setup.sh" >/dev/null
"$quasar_root/scripts/build.sh" >/dev/null
bin=$quasar_build/bin
dir=$(mktemp -d /tmp/quasar-bench-routing-XXXXXX)
tag=qbr$$
subnet=10.97.0
cleanup() {
  # The daemons first, while etcd still answers their goodbye.
  quasar_stop "$dir/n" || true
  quasar_stop "$dir/" || true
  quasar_delete_netns "$tag-"
  rm -rf "$dir"
}
trap cleanup EXIT

quasar_lan "$tag"
attach() { quasar_lan_attach "$tag" "$1" "$subnet.$2/24" "$2"; }  # NAME HOST
attach etcd 100
for i in 1 2 3; do attach n$i $i; done

ip netns exec "$tag-etcd" etcd --name=e --data-dir="$dir/etcd" \
  --listen-client-urls=http://$subnet.100:2379 --advertise-client-urls=http://$subnet.100:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=e=http://127.0.0.1:2380 --log-level=error >/dev/null 2>"$dir/etcd.log" &
for _ in $(seq 100); do
  ip netns exec "$tag-n1" env ETCDCTL_API=3 etcdctl --endpoints=$subnet.100:2379 \
    endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done

start_node() {  # I
  mkdir -p "$dir/n$1"
  cat >"$dir/n$1/quasard.yaml" <<YAML
nodeName: n$1
socket: $dir/n$1/quasard.sock
cniSocket: $dir/n$1/cni.sock
stateDir: $dir/n$1/state
uplink: up0
clusterCIDR: 10.244.0.0/16
blockSize: 26
nodeTTLSeconds: 10
routingMode: ipip-crosssubnet
natOutgoing: false
logLevel: warn
datastore: {type: etcd, endpoints: [$subnet.100:2379], prefix: /bench/}
YAML
  ip netns exec "$tag-n$1" "$bin/quasard" -c "$dir/n$1/quasard.yaml" >/dev/null \
    2>>"$dir/n$1/quasard.log" &
  echo $! >"$dir/n$1/pid"
}
has_route() {  # NODE: does NODE route to n3's block?
  ip -n "$tag-$1" route show proto 114 | grep -q "via $subnet.3 dev up0"
}
now_us() { echo $(($(date +%s%N) / 1000)); }

start_node 1
start_node 2
sleep 1
appear=()
vanish=()
for r in $(seq "$rounds"); do
  t0=$(now_us)
  start_node 3
  until has_route n1 && has_route n2; do
    [ $(($(now_us) - t0)) -gt 20000000 ] && { echo "routes never appeared" >&2; exit 1; }
  done
  appear+=($(($(now_us) - t0)))
  sleep 0.5
  t0=$(now_us)
  kill "$(cat "$dir/n3/pid")"
  while has_route n1 || has_route n2; do
    [ $(($(now_us) - t0)) -gt 20000000 ] && { echo "routes never went" >&2; exit 1; }
  done
  vanish+=($(($(now_us) - t0)))
  wait "$(cat "$dir/n3/pid")" 2>/dev/null || true
  sleep 0.3
done
stats() {  # median and max of microsecond values, printed in ms
  printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%.0f ms | %.0f ms", v[int((NR+1)/2)]/1000, v[NR]/1000}'
}
table=$(cat <<MD
| what (3 real nodes, $rounds rounds) | median | max |
|---|---|---|
| n3's quasard starts (registers, claims or finds its block) until n1 and n2 both route to its block | $(stats "${appear[@]}") |
| n3's quasard stops (SIGTERM) until n1 and n2 have both removed that route | $(stats "${vanish[@]}") |
MD
)
echo "$table"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  cat <<MD
## Routes between three real nodes

Command: \`scripts/bench-routing.sh $rounds\` (as root), on $(date -u +%Y-%m-%d).
Machine: $(nproc) cores, $cpu. etcd 3.4 and three quasard nodes, each in its own namespace on one
bridged subnet (so the routes are direct, host-gw style; the IPIP path is tested in the VM, see
scripts/vm-test.sh). Each round starts n3's quasard and polls \`ip route\` in n1 and n2 until both
have the route to n3's block (registration, block claim, the watch, the routing agent and the
kernel), then stops n3 and polls until both routes are gone (n3 deletes its liveness key when it
stops; without that, the node TTL, 10 s here, would bound it). The polling itself runs \`ip\`
twice per loop, a few milliseconds each: the times are upper bounds.

$table
MD
} | quasar_write_section "$quasar_root/docs/benchmarks.md" bench-routing
echo "wrote docs/benchmarks.md" >&2
