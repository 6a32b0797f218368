#!/usr/bin/env bash
# ENI-mode ADD/DEL latency (issue 15): pods taking secondary IPs of the node's network interfaces
# from a warm pool, and from a cold pool (one AssignPrivateIpAddresses per ADD, the cloud answering
# after 50 ms), beside a pod-CIDR quasard and Debian's ptp + host-local, interleaved in one run.
# The cloud is vpc-sim (tests/vpc/vpc_sim.py, docs/vpc-sim.md), an emulated VPC speaking EC2's API;
# three of its instances are the nodes (warm, cold, pod-CIDR), each with its own quasard.
# Writes its section of docs/benchmarks.md. Needs root; only namespaces of its own are touched.
# usage: scripts/bench-eni.sh [CYCLES=200]
#   env: QUASAR_ENI_LATENCY_MS (50: every EC2 call waits this long), QUASAR_BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
cycles=${1:-200}
latency_ms=${QUASAR_ENI_LATENCY_MS:-50}
warm_target=16
# The cold node never reuses an address (see its config), so its primary interface must hold
# every ADD's: the warm-up's 5, the cycles, the one the pool starts with.
per_interface=$((cycles + 10 > 250 ? cycles + 10 : 250))

"$quasar_root/scripts/setup.sh" >/dev/null
cmake -S "$quasar_root" -B "$quasar_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$quasar_build" -j"$(nproc)" --target quasar quasard quasarctl bench_cni >/dev/null
bin=$quasar_build/bin
tag=qe$$
dir=$(mktemp -d /tmp/quasar-bench-eni-XXXXXX)
control=$dir/vpc/control.sock
sim_pid=
daemon_pids=()

cleanup() {
  local pid
  for pid in "${daemon_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${daemon_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # vpc-sim removes its router's and instances' namespaces and links on SIGTERM.
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  quasar_delete_netns "$tag-" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the VPC: one subnet, three instances of type sim.bench ---
declare -A node_ip=([warm]=10.40.0.11 [cold]=10.40.0.12 [pcidr]=10.40.0.13)
declare -A instance=([warm]=i-00000000000000001 [cold]=i-00000000000000002
  [pcidr]=i-00000000000000003)
mkdir -p "$dir/vpc"
cat >"$dir/vpc/vpc.json" <<JSON
{
  "routerNetns": "$tag-vpcr",
  "region": "us-sim-1",
  "vpcCidr": "10.40.0.0/16",
  "apiPort": 8080,
  "imdsPort": 80,
  "credentials": {"accessKeyId": "AKIDVPCSIMEXAMPLE01", "secretAccessKey": "vpc-sim/secret+key/EXAMPLE",
                  "sessionToken": "vpc-sim-session-token", "role": "quasar-node"},
  "subnets": [{"id": "subnet-a", "cidr": "10.40.0.0/20", "az": "us-sim-1a"}],
  "securityGroups": [{"id": "sg-00000000000000001", "name": "nodes"}],
  "instanceTypes": [{"name": "sim.bench", "maxInterfaces": 4, "ipv4PerInterface": $per_interface}],
  "instances": [
    {"id": "${instance[warm]}", "type": "sim.bench", "subnet": "subnet-a",
     "primaryIp": "${node_ip[warm]}", "netns": "$tag-warm"},
    {"id": "${instance[cold]}", "type": "sim.bench", "subnet": "subnet-a",
     "primaryIp": "${node_ip[cold]}", "netns": "$tag-cold"},
    {"id": "${instance[pcidr]}", "type": "sim.bench", "subnet": "subnet-a",
     "primaryIp": "${node_ip[pcidr]}", "netns": "$tag-pcidr"}
  ]
}
JSON
sim() { curl -sS --fail --unix-socket "$control" "$@"; }
/usr/bin/python3 "$quasar_root/tests/vpc/vpc_sim.py" --config "$dir/vpc/vpc.json" \
  --control "$control" >/dev/null 2>"$dir/vpc/vpc-sim.log" &
sim_pid=$!
for i in $(seq 300); do
  sim http://x/healthz >/dev/null 2>&1 && break
  if [ "$i" = 300 ] || ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "vpc-sim did not come up: $(cat "$dir/vpc/vpc-sim.log")" >&2
    exit 1
  fi
  sleep 0.1
done

# --- a quasard per instance ---
# warm: AWS's WARM_IP_TARGET; a released address is free again at once (releaseCooldownSeconds 0).
# cold: no free address is ever kept, and a released one is never handed out again within the
#   run (releaseCooldownSeconds 3600; cooling addresses count as in use, so minimumIPTarget 1
#   keeps none free once the first ADD happened): every ADD after the first assigns its own
#   address. With warmENITarget alone the pool would fill the whole interface after the first
#   ADD (AWS's whole-ENI fill), and a freed address would stay warm.
# pcidr: quasard's default IPAM, addresses from the node's pod-CIDR block.
write_conf() {
  local n=$1 cooldown=$2
  mkdir -p "$dir/$n"
  cat >"$dir/$n/quasard.yaml" <<YAML
nodeName: bench-$n
socket: $dir/$n/quasard.sock
cniSocket: $dir/$n/cni.sock
stateDir: $dir/$n/state
podCIDRs: [10.244.0.0/16]
releaseCooldownSeconds: $cooldown
routingMode: host-gw
networkPolicy: false
logLevel: warn
YAML
  echo '{"cniVersion":"1.1.0","name":"quasar","type":"quasar","socket":"'"$dir/$n"'/cni.sock"}' \
    >"$dir/$n/net.json"
}
eni_section() {
  cat <<YAML
eni:
  ec2Endpoint: http://10.40.0.1:8080
  imdsEndpoint: http://169.254.169.254:80
  warmIPTarget: $1
  minimumIPTarget: $2
  warmENITarget: 0
  surplusCooldownSeconds: 60
YAML
}
write_conf warm 0
eni_section "$warm_target" 0 >>"$dir/warm/quasard.yaml"
write_conf cold 3600
eni_section 0 1 >>"$dir/cold/quasard.yaml"
write_conf pcidr 0
echo '{"cniVersion":"1.0.0","name":"refnet","type":"ptp","mtu":1500,"ipam":{"type":"host-local","subnet":"10.245.0.0/16","dataDir":"'"$dir"'/host-local"}}' \
  >"$dir/ref.json"

ctl() { local n=$1; shift; ip netns exec "$tag-$n" "$bin/quasarctl" --socket "$dir/$n/quasard.sock" "$@"; }
for n in warm cold pcidr; do
  ip netns exec "$tag-$n" "$bin/quasard" -c "$dir/$n/quasard.yaml" >/dev/null \
    2>"$dir/$n/quasard.log" &
  daemon_pids+=($!) # `ip netns exec` execs in place: this is quasard's pid
done
# Ready: every quasard answers; the warm pool holds its target, the cold one its single address.
want_free() {
  ctl "$1" -o json status 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin).get("eni") or {}
except ValueError:  # quasard not answering yet
    sys.exit(1)
sys.exit(0 if s.get("started") and s["addresses"]["free"] == int(sys.argv[1]) else 1)' "$2"
}
for i in $(seq 600); do
  want_free warm "$warm_target" && want_free cold 1 && ctl pcidr status >/dev/null 2>&1 && break
  if [ "$i" = 600 ]; then
    for n in warm cold pcidr; do echo "--- $n: $(ctl "$n" status 2>&1)" >&2; cat "$dir/$n/quasard.log" >&2; done
    echo "the quasards did not come up" >&2
    exit 1
  fi
  sleep 0.1
done

# Every EC2 call waits first from now on (not the metadata service).
sim -X POST -d '{"action": "*", "ms": '"$latency_ms"'}' http://x/latency >/dev/null
sim -X POST http://x/calls/reset >/dev/null

echo "creating $((4 * (cycles + 5))) pod namespaces (outside the timed part)..." >&2
for k in 0 1 2 3; do
  for i in $(seq 0 4); do ip netns add "$tag-pod$k-w$i"; done
  for i in $(seq 0 $((cycles - 1))); do ip netns add "$tag-pod$k-c$i"; done
done

echo "running $cycles interleaved ADD/DEL cycles of 4 kinds of pod..." >&2
failed=0
table=$(ip netns exec "$tag-pcidr" "$bin/bench_cni" pods "$cycles" "/$tag-pod" \
  "pod:quasar ENI, warm pool ($warm_target free)|$bin/quasar|$dir/warm/net.json|/run/netns/$tag-warm|" \
  "pod:quasar ENI, cold pool (AssignPrivateIpAddresses in the ADD)|$bin/quasar|$dir/cold/net.json|/run/netns/$tag-cold|" \
  "pod:quasar pod-CIDR|$bin/quasar|$dir/pcidr/net.json|/run/netns/$tag-pcidr|" \
  "pod:ptp + host-local|/usr/lib/cni/ptp|$dir/ref.json|/run/netns/$tag-pcidr|" \
  "ratio:ENI warm / pod-CIDR (goal: ADD median <= 1.2x)|0|2" \
  "ratio:ENI cold / pod-CIDR|1|2" \
  "ratio:ENI cold / ENI warm|1|0" \
  "ratio:ENI warm / ptp + host-local|0|3" \
  "ratio:pod-CIDR / ptp + host-local|2|3") || failed=$?
[ "$failed" -le 1 ] || exit "$failed"
echo "$table"

# The EC2 calls each node made during the warm-up and the cycles (vpc-sim counts them).
calls=$(sim http://x/calls | python3 -c '
import json, sys
c = json.load(sys.stdin)["byCaller"]
cycles, names = int(sys.argv[1]), sys.argv[2:]
for label, iid in zip(names[0::2], names[1::2]):
    mine = c.get(iid, {})
    text = ", ".join("%s %d" % kv for kv in sorted(mine.items())) or "none"
    print("- %s: %s" % (label, text))
' "$cycles" "warm-pool node" "${instance[warm]}" "cold-pool node" "${instance[cold]}" \
  "pod-CIDR node" "${instance[pcidr]}")
echo "$calls"
cold_assigns=$(sim http://x/calls | python3 -c '
import json, sys
print(json.load(sys.stdin)["byCaller"].get(sys.argv[1], {}).get("AssignPrivateIpAddresses", 0))' \
  "${instance[cold]}")
goal=$(echo "$table" | python3 -c '
import sys
for line in sys.stdin:
    if line.startswith("| ENI warm / pod-CIDR"):
        r = float(line.split("|")[2].strip().rstrip("x"))
        print("met (%.2fx)" % r if r <= 1.2 else "not met (%.2fx)" % r)' || true)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
quasar_write_section "$quasar_root/docs/benchmarks.md" bench-eni <<MD
## ENI mode: ADD/DEL latency with a warm pool and a cold pool, beside pod-CIDR and ptp

Command: \`scripts/bench-eni.sh $cycles\` (as root; every EC2 call delayed ${latency_ms} ms), on
$(date -u +%Y-%m-%d), quasar at $(git -C "$quasar_root" rev-parse --short HEAD).
Machine: $(nproc) cores, $cpu, kernel $(uname -r), Debian $(cat /etc/debian_version).
The CPU was shared with other work (a CI run) during this run: absolute figures drift 10-30%
from one run to the next here; compare the ratios, which come from one run.

The cloud is vpc-sim (docs/vpc-sim.md), the emulated VPC that answers EC2's Query API and IMDSv2
and makes each change real on this machine; quasard talks to it with its production EC2 client
(SigV4, credentials from the metadata service). Its control API's \`POST /latency
{"action": "*", "ms": ${latency_ms}}\` delays every EC2 call by ${latency_ms} ms (a cloud API's
typical latency; the metadata service is not delayed), set once the pools were ready. Three
instances of one instance type, sim.bench (4 interfaces x ${per_interface} IPv4 addresses),
are the nodes, each with its own quasard (routingMode host-gw, networkPolicy false, SQLite store):

- **ENI, warm pool**: \`warmIPTarget: $warm_target\`, \`releaseCooldownSeconds: 0\` (a freed address
  is free again at once). Its ADDs take a warm address and make no cloud call; the refill runs
  in the background.
- **ENI, cold pool**: \`minimumIPTarget: 1\`, no warm target, \`releaseCooldownSeconds: 3600\`:
  a released address is never handed out again within the run and, cooling, counts as in use,
  so the pool keeps no free address after the first ADD: every later ADD assigns its own with
  one \`AssignPrivateIpAddresses\` while the plugin waits (the pool's cold path). (With
  \`warmENITarget: 0\` and no IP target instead, the pool fills the whole interface after the
  first ADD, AWS's whole-ENI fill, and a freed address stays warm: the ADDs would not be cold.)
- **pod-CIDR**: quasard's default IPAM on the third instance (10.244.0.0/16).
- **ptp + host-local**: Debian's reference plugins on the pod-CIDR node.

tests/bench_cni.cc's pods mode drives all four from one process, interleaved (each cycle one
ADD and one DEL of each kind of pod, the order rotating from cycle to cycle), each ADD on a fresh
pod namespace made beforehand, after 5 warm-up ADD/DELs each. Times are wall-clock from spawning
the plugin to its exit, in the node's namespace. An ENI pod's ADD returns once its address, its
/32 route and its policy-routing rule are in place (docs/eni.md, "Data path").

$table

EC2 calls each node made during the warm-up and the cycles (vpc-sim's per-caller counters):

$calls

Cold-pool ADDs that assigned their own address (\`AssignPrivateIpAddresses\` calls of the cold
node): $cold_assigns, of $((cycles + 4)) expected (every ADD but the first warm-up one, which took
the one address the pool started with).

Goal (issue 15): a warm-pool ADD within 1.2x of a pod-CIDR ADD (median): **$goal** in this run.

### Findings (2026-12-02, 2 cores shared with a CI build)

- A warm-pool ADD costs what a pod-CIDR ADD costs: 0.97-1.12x on the median in four runs (80,
  80 and 150 cycles with 50 ms, 40 with none; -0.5 to +1.5 ms), within the run-to-run noise
  of this machine (its p99 0.86-1.12x). Its extra work is in quasard: the pool hands out a
  free address from memory (no cloud call: the warm node made 1-2 \`AssignPrivateIpAddresses\` in a whole run, the
  background refill topping the pool up after the first ADD; a DEL's address is free again at
  once) and, before quasard answers, installs the pod's policy-routing rule in one netlink
  request (\`pref 20100 to <pod>/32 lookup main\`; a pod on a secondary interface also gets
  \`from <pod>/32 lookup <its table>\`; here every pod is on the primary interface).
- A cold-pool ADD is the warm one plus one EC2 call: +65-69 ms over warm with 50 ms injected,
  +22 ms with none (\`QUASAR_ENI_LATENCY_MS=0 scripts/bench-eni.sh 40\`). So about 50 ms is the
  cloud's latency (one \`AssignPrivateIpAddresses\` per ADD, as vpc-sim's counts show) and ~20
  ms the rest of the call on this loaded machine: vpc-sim's own handling in Python (SigV4 check,
  EC2's XML, an \`ip -batch\` process in the router namespace for the address's /32 route and
  neighbour entry) and quasar's EC2 client (signing, one HTTP request). Against EC2, the
  simulator's share is part of the cloud's own latency. This is what the warm pool is for: with
  \`warmIPTarget\` at least the node's pod churn between refills, no ADD waits on the cloud.
- DEL is the same in every quasar mode (0.92-1.07x): it makes no cloud call (the address stays
  with the pool; a warm pool gives surplus back after \`surplusCooldownSeconds\`, in the
  background).
- quasar (either IPAM) against ptp + host-local: ~0.2x on ADD and DEL, as in bench-cni above.
  Absolute times here are 2-3x bench-cni's section: the machine was busier (a CI build).
MD
echo "wrote docs/benchmarks.md" >&2
[ "$failed" = 0 ] || { echo "some ADD/DEL invocations failed (the failed column)" >&2; exit 1; }
