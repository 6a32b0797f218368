#!/usr/bin/env bash
# Data-path benchmark (issue 16): netperf (and iperf3 for bulk throughput, as a second opinion)
# between real pods made by the real plugin on real quasard nodes, against the node-to-node floor
# and Debian's ptp + host-local with static routes. Nodes are namespaces on one bridged
# "physical" subnet, etcd holds the cluster; one pair of nodes per routing mode (host-gw,
# vxlan-always, and ipip-always where the kernel has the ipip module), one host-gw pair
# enforcing 1,000 NetworkPolicies, one without policy, two for the reference (one with conntrack
# on), a node with floating-IP pods (veth and macvlan) that a plain host on the subnet reaches, and
# an ENI pod on an instance of vpc-sim's emulated VPC that a VPC host reaches. Every test runs for SECONDS,
# ROUNDS times, the rows interleaved round by round. Writes the raw figures as JSON (OUT,
# default /tmp/quasar-netperf-<date>.json), the netperf section of docs/benchmarks.md and
# docs/netperf.png. Needs root; never touches the root namespace.
# usage: scripts/netperf-bench.sh [ROUNDS=5] [SECONDS=5] [OUT]
#        scripts/netperf-bench.sh --vm [ROUNDS=3] [SECONDS=5] [OUT]
#   --vm: the whole harness, IPIP row included, inside scripts/vm-test.sh's VM (Debian's kernel,
#   qemu TCG: 10-50x slower than this kernel's namespaces). The run in the VM prints its JSON on
#   the console (a line "QUASAR_NETPERF_JSON {...}"); this side takes it from there, writes it
#   to OUT (default /tmp/quasar-netperf-vm-<date>.json), the netperf-vm section of
#   docs/benchmarks.md and docs/netperf-vm.png. QUASAR_VM_TIMEOUT (default 7200 s) bounds the VM.
#   NETPERF_TESTS="tcp_rr tcp_crr ..." runs only those tests (ids in `tests` below; with --vm
#   the default is "tcp_rr tcp_crr stream1"); NETPERF_PATIENCE=N multiplies every wait for a
#   daemon, route or server (default 1; 10 in the VM);
#   NETPERF_NOTE="..." adds a sentence to the section (e.g. what else ran on the machine);
#   NETPERF_DOCS=0 leaves docs/ alone (the JSON and the table only: a trial run);
#   QUASAR_NO_BUILD=1 skips scripts/build.sh (the binaries in QUASAR_BUILD_DIR are current).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
vm=0
if [ "${1:-}" = --vm ]; then vm=1; shift; fi
# NETPERF_IN_VM=1: this is the run inside the VM (started by --vm): nothing to set up or build,
# the JSON goes to the console, the docs are written outside.
in_vm=${NETPERF_IN_VM:-0}
rounds=${1:-$([ "$vm" = 1 ] && echo 3 || echo 5)}
secs=${2:-5}
[[ $rounds =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] ||
  { echo "usage: $0 [--vm] [ROUNDS] [SECONDS] [OUT]" >&2; exit 2; }
out=${3:-/tmp/quasar-netperf$([ "$vm" = 1 ] && echo -vm)-$(date -u +%Y%m%dT%H%M%S).json}
patience=${NETPERF_PATIENCE:-$([ "$in_vm" = 1 ] && echo 10 || echo 1)}
# Before the set-up (applying 1,001 policies and starting 8 daemons raises it): what else runs.
load_before=$(cut -d' ' -f1 /proc/loadavg)

if [ "$in_vm" != 1 ]; then
  "$quasar_root/scripts/setup.sh" >/dev/null
  if [ -z "${QUASAR_NO_BUILD:-}" ]; then "$quasar_root/scripts/build.sh" >/dev/null; fi
fi
report=$quasar_root/tests/bench/netperf_report.py

# --vm: this script again inside the VM, its JSON taken from the console; the docs written here.
# The VM loads no module on demand, so netfilter's (for quasar's policy chains and sets) are
# named; crc32c first, which libcrc32c (nf_tables, nf_conntrack) needs and does not depend on.
run_in_vm() {
  local log rc json_line tests=${NETPERF_TESTS:-tcp_rr tcp_crr stream1}
  [[ $tests =~ ^[a-z0-9_\ ]+$ ]] || { echo "NETPERF_TESTS: test ids only" >&2; exit 2; }
  log=$(mktemp /tmp/quasar-netperf-vm-XXXXXX.log)
  echo "netperf in the VM: $rounds rounds x ${secs}s of $tests (console: $log)" >&2
  set +e
  QUASAR_VM_TIMEOUT=${QUASAR_VM_TIMEOUT:-7200} QUASAR_VM_MODULES="crc32c_generic nf_tables \
nft_compat nft_ct nf_conntrack xt_conntrack xt_set ip_set_hash_ip ip_set_hash_ipport \
ip_set_hash_net xt_comment xt_mark xt_multiport xt_tcpudp ipt_REJECT macvlan" \
    "$quasar_root/scripts/vm-test.sh" -- "cd $quasar_root && NETPERF_IN_VM=1 \
NETPERF_TESTS='$tests' NETPERF_PATIENCE=${NETPERF_PATIENCE:-10} QUASAR_BUILD_DIR=$quasar_build \
scripts/netperf-bench.sh $rounds $secs" |
    tee "$log" | grep --line-buffered -v '^QUASAR_NETPERF_JSON ' >&2
  rc=${PIPESTATUS[0]}
  set -e
  json_line=$(sed -n 's/^QUASAR_NETPERF_JSON //p' "$log" | tail -1)
  if [ "$rc" -ne 0 ] || [ -z "$json_line" ]; then
    echo "netperf in the VM failed (exit $rc); its console: $log" >&2
    exit 1
  fi
  # What the VM's JSON cannot know: this machine (whose CPUs qemu emulates on, and how busy
  # they were), the command as run here, the note.
  echo "$json_line" | NP_COMMAND="scripts/netperf-bench.sh --vm $rounds $secs" \
    NP_LOAD_BEFORE=$load_before NP_LOAD_AFTER="$(cut -d' ' -f1 /proc/loadavg)" \
    NP_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    NP_QEMU="$(qemu-system-x86_64 --version | head -1)" python3 -c '
import json, os, platform, sys
e = os.environ
r = json.loads(sys.stdin.read())
r["command"] = e["NP_COMMAND"]
r["note"] = e.get("NETPERF_NOTE", "")
r["vm"] = {"qemu": e["NP_QEMU"], "accel": "tcg", "vcpus": r["machine"]["cores"],
           "memory_mib": 3072}
r["host"] = {"cores": os.cpu_count(), "cpu": e["NP_CPU"], "kernel": platform.release(),
             "load_average": {"before": e["NP_LOAD_BEFORE"], "after": e["NP_LOAD_AFTER"]}}
print(json.dumps(r, indent=1))' >"$out"
  rm -f "$log"
  echo "raw figures: $out" >&2
  python3 "$report" "$out" --table
  [ "${NETPERF_DOCS:-1}" != 0 ] || return 0
  local dir
  dir=$(mktemp -d /tmp/quasar-netperf-vm-XXXXXX)
  python3 "$report" "$out" --chart "$quasar_root/docs/netperf-vm.png" --section "$dir/section.md"
  quasar_write_section "$quasar_root/docs/benchmarks.md" netperf-vm <"$dir/section.md"
  rm -rf "$dir"
  echo "wrote docs/benchmarks.md (netperf-vm) and docs/netperf-vm.png" >&2
}
if [ "$vm" = 1 ]; then
  run_in_vm
  exit 0
fi
bin=$quasar_build/bin
np=/var/cache/quasar/netperf/usr/bin
dir=$(mktemp -d /tmp/quasar-netperf-XXXXXX)
tag=qnp$$
lan=10.98.0
pids=()    # every background process this script started, stopped by id at exit
daemons=() # quasard's, stopped first while etcd still answers their goodbye

stop_pids() {  # PID...: SIGTERM, then SIGKILL what is left after 3 s
  local p left
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for _ in $(seq 30); do
    left=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ "$left" -eq 0 ] && return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null || true
}
cleanup() {
  stop_pids "${daemons[@]}"
  stop_pids "${pids[@]}"
  quasar_delete_netns "$tag-"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that the EXIT trap runs on a signal too

# --- the physical subnet: one bridge, every node and etcd attached by a veth ---
quasar_lan "$tag"
attach() { quasar_lan_attach "$tag" "$1" "$lan.$2/24" "$2"; }  # NAME HOST: up0 = $lan.HOST/24
attach etcd 100
ip netns exec "$tag-etcd" etcd --name=e --data-dir="$dir/etcd" \
  --listen-client-urls=http://$lan.100:2379 --advertise-client-urls=http://$lan.100:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=e=http://127.0.0.1:2380 --log-level=error >/dev/null 2>"$dir/etcd.log" &
pids+=($!)
n=$((100 * patience))
for i in $(seq $n); do
  ip netns exec "$tag-etcd" env ETCDCTL_API=3 etcdctl --endpoints=$lan.100:2379 \
    endpoint health >/dev/null 2>&1 && break
  [ "$i" -eq $n ] && { echo "etcd did not start:" >&2; cat "$dir/etcd.log" >&2; exit 1; }
  sleep 0.1
done

first_ip() {  # a CNI result on stdin: its first address, without the prefix length
  python3 -c 'import json, sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])'
}

# --- quasar nodes and pods ---
quasar_node() {  # NODE HOST MODE CIDR [CLUSTER [YAML]]: a node namespace running quasard in MODE,
  # YAML (one line) added to its configuration
  local node=$1 host=$2 mode=$3 cidr=$4 cluster=${5:-$3} extra=${6:-} d=$dir/$1
  attach "$node" "$host"
  mkdir -p "$d"
  cat >"$d/quasard.yaml" <<YAML
nodeName: $node
socket: $d/quasard.sock
cniSocket: $d/cni.sock
stateDir: $d/state
uplink: up0
clusterCIDR: $cidr
blockSize: 26
routingMode: $mode
natOutgoing: false
logLevel: warn
datastore: {type: etcd, endpoints: [$lan.100:2379], prefix: /netperf-$cluster/}
$extra
YAML
  ip netns exec "$tag-$node" "$bin/quasard" -c "$d/quasard.yaml" >/dev/null 2>"$d/quasard.log" &
  daemons+=($!)
  for _ in $(seq $((100 * patience))); do
    "$bin/quasarctl" --socket "$d/quasard.sock" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "quasard on $node did not start:" >&2
  cat "$d/quasard.log" >&2
  return 1
}
quasar_pod() {  # NODE POD [NAMESPACE]: a pod namespace wired by the quasar plugin (CNI ADD);
  # prints its IP. NAMESPACE is the pod's Kubernetes namespace (its object, if any, gives labels).
  local node=$1 pod=$2 k8s_ns=${3:-netperf} conf result
  ip netns add "$tag-$pod"
  conf='{"cniVersion":"1.1.0","name":"quasar","type":"quasar","socket":"'$dir/$node/cni.sock'"}'
  result=$(echo "$conf" | ip netns exec "$tag-$node" env CNI_COMMAND=ADD CNI_CONTAINERID="$pod" \
    CNI_NETNS="/run/netns/$tag-$pod" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="K8S_POD_NAMESPACE=$k8s_ns;K8S_POD_NAME=$pod" "$bin/quasar" 2>>"$dir/cni.log")
  echo "$result" | first_ip
}

# --- the reference: ptp + host-local pods, a static route to the other node's subnet ---
ref_node() {  # NODE HOST: a node namespace that forwards, no daemon
  attach "$1" "$2"
  ip netns exec "$tag-$1" sysctl -qw net.ipv4.ip_forward=1
}
ref_pod() {  # NODE POD SUBNET(x.y.z): prints the pod's IP
  local node=$1 pod=$2 conf result
  ip netns add "$tag-$pod"
  # MTU 1500 as quasar's host-gw pods get it; a default route, so pods reach the other subnet.
  conf='{"cniVersion":"1.0.0","name":"refnet","type":"ptp","mtu":1500,"ipam":{"type":"host-local",'
  conf+='"subnet":"'$3'.0/24","routes":[{"dst":"0.0.0.0/0"}],"dataDir":"'$dir/$node-host-local'"}}'
  result=$(echo "$conf" | ip netns exec "$tag-$node" env CNI_COMMAND=ADD CNI_CONTAINERID="$pod" \
    CNI_NETNS="/run/netns/$tag-$pod" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    /usr/lib/cni/ptp 2>>"$dir/cni.log")
  echo "$result" | first_ip
}

# IPIP only where the kernel has the module (loaded, or loadable: quasard's tunl0 loads it); in
# the VM it must be there, as it is the point of running there.
ipip=0
if [ -d /sys/module/ipip ] || { command -v modprobe >/dev/null && modprobe -q -n ipip; }; then
  ipip=1
elif [ "$in_vm" = 1 ]; then
  echo "no ipip module in the VM" >&2
  exit 1
fi
echo "setting up: etcd, $((6 + ipip)) pairs of nodes (host-gw, vxlan-always,$([ "$ipip" = 1 ] &&
  echo " ipip-always,") policy, no policy, two of the reference), a floating-IP node and a" \
  "plain host, an emulated VPC with an ENI node and a host, $((18 + 2 * ipip)) pods..." >&2
quasar_node hga 1 host-gw 10.244.0.0/16
quasar_node hgb 2 host-gw 10.244.0.0/16
quasar_node vxa 11 vxlan-always 10.245.0.0/16
quasar_node vxb 12 vxlan-always 10.245.0.0/16
if [ "$ipip" = 1 ]; then  # ipip-always: through tunl0 even on one subnet
  quasar_node ipa 41 ipip-always 10.248.0.0/16
  quasar_node ipb 42 ipip-always 10.248.0.0/16
fi
# Where host-gw's cost against ptp goes: quasar's policy chains match on conntrack state, which
# turns conntrack on in the node (as kube-proxy's rules do on any Kubernetes node; ptp alone
# does not). This pair runs without them, the second reference pair with one such rule.
quasar_node hna 51 host-gw 10.249.0.0/16 nopolicy "networkPolicy: false"
quasar_node hnb 52 host-gw 10.249.0.0/16 nopolicy "networkPolicy: false"
quasar_node pla 31 host-gw 10.247.0.0/16 policy
quasar_node plb 32 host-gw 10.247.0.0/16 policy
ref_node rfa 21
ref_node rfb 22
ip -n "$tag-rfa" route add 10.246.2.0/24 via $lan.22 dev up0
ip -n "$tag-rfb" route add 10.246.1.0/24 via $lan.21 dev up0
ref_node rca 23
ref_node rcb 24
ip -n "$tag-rca" route add 10.246.4.0/24 via $lan.24 dev up0
ip -n "$tag-rcb" route add 10.246.3.0/24 via $lan.23 dev up0
for node in rca rcb; do  # quasar's first FORWARD rule; only these namespaces see it
  ip netns exec "$tag-$node" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED \
    -j ACCEPT
done

quasar_pod hga hga1 >/dev/null  # clients: their addresses are not needed
hga2=$(quasar_pod hga hga2)
hgb1=$(quasar_pod hgb hgb1)
quasar_pod vxa vxa1 >/dev/null
vxb1=$(quasar_pod vxb vxb1)
if [ "$ipip" = 1 ]; then
  quasar_pod ipa ipa1 >/dev/null
  ipb1=$(quasar_pod ipb ipb1)
fi
ref_pod rfa rfa1 10.246.1 >/dev/null
rfb1=$(ref_pod rfb rfb1 10.246.2)
ref_pod rca rca1 10.246.3 >/dev/null
rcb1=$(ref_pod rcb rcb1 10.246.4)
quasar_pod hna hna1 >/dev/null
hnb1=$(quasar_pod hnb hnb1)

# --- floating IPs: pods with addresses of the physical subnet itself (docs/floating-ips.md),
# one pool per data-path mode, reached from a plain host on that subnet (no quasar, no route
# but the subnet's own): through the node's proxy ARP and veth, or the pod's own macvlan.
quasar_node fla 61 host-gw 10.243.0.0/16 floating
attach plain 60
cat >"$dir/floating.yaml" <<YAML
apiVersion: quasar.io/v1
kind: FloatingIPPool
metadata: {name: fveth}
spec: {subnet: $lan.0/24, gateway: $lan.254, ranges: ["$lan.200-$lan.209"], mode: veth}
---
apiVersion: quasar.io/v1
kind: FloatingIPPool
metadata: {name: fmacvlan}
spec: {subnet: $lan.0/24, gateway: $lan.254, ranges: ["$lan.210-$lan.219"], mode: macvlan}
---
apiVersion: v1
kind: Pod
metadata: {name: flv1, namespace: netperf, annotations: {quasar.io/floating-ip-pools: fveth}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: flm1, namespace: netperf, annotations: {quasar.io/floating-ip-pools: fmacvlan}}
spec: {containers: [{name: c, image: x}]}
YAML
"$bin/quasarctl" --socket "$dir/fla/quasard.sock" apply -f "$dir/floating.yaml" >/dev/null
flv1=$(quasar_pod fla flv1)
flm1=$(quasar_pod fla flm1)
in_pool() {  # ADDRESS FIRST LAST: the pod got an address of its pool, not a pod-CIDR one
  local host=${1##*.}
  [[ $1 == "$lan".* ]] && [ "$host" -ge "$2" ] && [ "$host" -le "$3" ] ||
    { echo "floating pod got $1, not an address of $lan.$2-$lan.$3" >&2; exit 1; }
}
in_pool "$flv1" 200 209
in_pool "$flm1" 210 219

# --- ENI multi-IP: vpc-sim (tests/vpc/vpc_sim.py, docs/vpc-sim.md), the emulated VPC speaking
# EC2's API, with one instance running quasard in ENI mode (its pod takes a secondary address of
# the instance's interfaces) and one VPC host, the client. Every path crosses vpc-sim's router
# namespace, as in a VPC, so its floor is the VPC host to the instance. networkPolicy: false, as
# every ENI configuration tested (docs/eni.md).
mkdir -p "$dir/vpc" "$dir/ena"
cat >"$dir/vpc/vpc.json" <<JSON
{
  "routerNetns": "$tag-vpcr", "region": "us-sim-1", "vpcCidr": "10.40.0.0/16",
  "apiPort": 8080, "imdsPort": 80,
  "credentials": {"accessKeyId": "AKIDVPCSIMEXAMPLE01",
                  "secretAccessKey": "vpc-sim/secret+key/EXAMPLE",
                  "sessionToken": "vpc-sim-session-token", "role": "quasar-node"},
  "subnets": [{"id": "subnet-a", "cidr": "10.40.0.0/20", "az": "us-sim-1a"}],
  "securityGroups": [{"id": "sg-00000000000000001", "name": "nodes"}],
  "instanceTypes": [{"name": "sim.bench", "maxInterfaces": 4, "ipv4PerInterface": 15}],
  "instances": [{"id": "i-00000000000000001", "type": "sim.bench", "subnet": "subnet-a",
                 "primaryIp": "10.40.0.11", "netns": "$tag-ena"}],
  "vpcHosts": [{"name": "client", "netns": "$tag-vhost", "ip": "10.40.0.50"}]
}
JSON
/usr/bin/python3 "$quasar_root/tests/vpc/vpc_sim.py" --config "$dir/vpc/vpc.json" \
  --control "$dir/vpc/control.sock" >/dev/null 2>"$dir/vpc/vpc-sim.log" &
pids+=($!)
n=$((300 * patience))
for i in $(seq $n); do
  curl -sS --fail --unix-socket "$dir/vpc/control.sock" http://x/healthz >/dev/null 2>&1 && break
  [ "$i" -eq $n ] && { echo "vpc-sim did not come up:" >&2; cat "$dir/vpc/vpc-sim.log" >&2; exit 1; }
  sleep 0.1
done
cat >"$dir/ena/quasard.yaml" <<YAML
nodeName: ena
socket: $dir/ena/quasard.sock
cniSocket: $dir/ena/cni.sock
stateDir: $dir/ena/state
podCIDRs: [10.242.0.0/16]
routingMode: host-gw
networkPolicy: false
logLevel: warn
eni:
  ec2Endpoint: http://10.40.0.1:8080
  imdsEndpoint: http://169.254.169.254:80
  warmIPTarget: 2
  minimumIPTarget: 0
  warmENITarget: 0
YAML
ip netns exec "$tag-ena" "$bin/quasard" -c "$dir/ena/quasard.yaml" >/dev/null \
  2>"$dir/ena/quasard.log" &
daemons+=($!)
n=$((300 * patience))
for i in $(seq $n); do  # up, and its warm pool filled (the ADD then needs no EC2 call)
  "$bin/quasarctl" --socket "$dir/ena/quasard.sock" -o json status 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin).get("eni") or {}
sys.exit(0 if s.get("started") and s["addresses"]["free"] >= 2 else 1)' 2>/dev/null && break
  [ "$i" -eq $n ] && { echo "quasard (ENI) on ena did not fill its pool:" >&2
    cat "$dir/ena/quasard.log" >&2; exit 1; }
  sleep 0.1
done
enp1=$(quasar_pod ena enp1)
[[ $enp1 == 10.40.* ]] || { echo "ENI pod got $enp1, not a VPC address" >&2; exit 1; }

# --- NetworkPolicy: the policy pair's cluster holds 1,000 policies over 1,000 pods elsewhere
# (tests/bench_policy's scale shape: namespaces ns0..ns99), none selecting the pods measured.
# Namespace "free" has no policy; in "allowed" one policy selects the server (role=server) and
# allows everything from the client (role=client).
mkdir -p "$dir/policy-objects"
"$bin/bench_policy" objects "$dir/policy-objects" 1000 1000 100 elsewhere >"$dir/policy-files"
cat >"$dir/allowed.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: free}
---
apiVersion: v1
kind: Pod
metadata: {name: pfr1, namespace: free}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pfr2, namespace: free}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: allowed}
---
apiVersion: v1
kind: Pod
metadata: {name: pal1, namespace: allowed, labels: {role: client}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pal2, namespace: allowed, labels: {role: server}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-from-client, namespace: allowed}
spec:
  podSelector: {matchLabels: {role: server}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}]}]
YAML
echo "$dir/allowed.yaml" >>"$dir/policy-files"
plctl() { "$bin/quasarctl" --socket "$dir/pla/quasard.sock" "$@"; }
while read -r f; do plctl apply -f "$f" >/dev/null; done <"$dir/policy-files"
# Both nodes enforce all 1,001 before any pod starts (their ADDs would wait for it anyway).
policies_applied() {  # NODE: its policy agent has every policy compiled and applied
  "$bin/quasarctl" --socket "$dir/$1/quasard.sock" -o json policy status | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s.get("ready") and s.get("policies") == 1001 else 1)'
}
n=$((600 * patience))
for node in pla plb; do
  for i in $(seq $n); do
    policies_applied "$node" 2>/dev/null && break
    [ "$i" -eq $n ] && { echo "$node never applied the 1,001 policies" >&2; exit 1; }
    sleep 0.1
  done
done
quasar_pod pla pfr1 free >/dev/null
pfr2=$(quasar_pod plb pfr2 free)
quasar_pod pla pal1 allowed >/dev/null
pal2=$(quasar_pod plb pal2 allowed)

# Rows: id|client namespace|server namespace|server address|label. A new row is its set-up
# above and one line here (the report takes labels and order from the JSON).
rows=(
  "node|hga|hgb|$lan.2|node to node, no pods (the floor)"
  "bare|rfa|rfb|$lan.22|node to node, neither running quasar (no chains, no conntrack)"
  "local|hga1|hga2|$hga2|pod to pod, same node (quasar)"
  "hostgw|hga1|hgb1|$hgb1|pod to pod across nodes, quasar host-gw"
  "vxlan|vxa1|vxb1|$vxb1|pod to pod across nodes, quasar VXLAN (vxlan-always)"
  ${ipb1:+"ipip|ipa1|ipb1|$ipb1|pod to pod across nodes, quasar IPIP (ipip-always)"}
  "ptp|rfa1|rfb1|$rfb1|pod to pod across nodes, ptp + host-local, static routes (reference)"
  "ptpct|rca1|rcb1|$rcb1|ptp + host-local, conntrack on in both nodes (one FORWARD rule)"
  "hgnopol|hna1|hnb1|$hnb1|quasar host-gw, networkPolicy: false (no chains, no conntrack)"
  "fipveth|plain|flv1|$flv1|floating-IP pod (veth, node's proxy ARP) from a plain host on the subnet"
  "fipmacvlan|plain|flm1|$flm1|floating-IP pod (macvlan) from a plain host on the subnet"
  "vpcnode|vhost|ena|10.40.0.11|VPC host to an instance, through the emulated VPC's router (the ENI row's floor)"
  "eni|vhost|enp1|$enp1|ENI secondary-IP pod from a VPC host, through the emulated VPC's router"
  "pol1000|pfr1|pfr2|$pfr2|host-gw pod to pod, 1,000 policies installed, none selecting the pair"
  "polallow|pal1|pal2|$pal2|host-gw pod to pod, 1,000 policies + one selecting the server, allowing the client"
)
# Tests: id|tool|arguments|label|unit. stream8 runs 8 netperf processes at once, summed; the
# iperf3 tests are one client with 1 or 8 parallel streams (-P), the receiver's total.
tests=(
  "tcp_rr|netperf|-t TCP_RR -- -r 64,64|TCP_RR 64/64|trans/s"
  "tcp_crr|netperf|-t TCP_CRR -- -r 64,64|TCP_CRR 64/64|trans/s"
  "stream1|netperf|-t TCP_STREAM --|TCP_STREAM 1 flow|Mbit/s"
  "stream8|netperf|-t TCP_STREAM --|TCP_STREAM 8 flows, sum|Mbit/s"
  "udp_rr|netperf|-t UDP_RR -- -r 64,64|UDP_RR 64/64|trans/s"
  "iperf1|iperf3|-P 1|iperf3 TCP 1 flow|Mbit/s"
  "iperf8|iperf3|-P 8|iperf3 TCP 8 flows|Mbit/s"
)
field() { echo "$1" | cut -d'|' -f"$2"; }
if [ -n "${NETPERF_TESTS:-}" ]; then  # only these, in the order above
  for id in $NETPERF_TESTS; do
    printf '%s\n' "${tests[@]}" | grep -q "^$id|" ||
      { echo "NETPERF_TESTS: no test $id" >&2; exit 2; }
  done
  picked=()
  for t in "${tests[@]}"; do
    [[ " $NETPERF_TESTS " == *" $(field "$t" 1) "* ]] && picked+=("$t")
  done
  tests=("${picked[@]}")
fi

for row in "${rows[@]}"; do
  server=$(field "$row" 3)
  ip netns exec "$tag-$server" "$np/netserver" -D >"$dir/netserver-$server.log" 2>&1 &
  pids+=($!)
  ip netns exec "$tag-$server" iperf3 -s >"$dir/iperf3-$server.log" 2>&1 &
  pids+=($!)
done
# Each row takes the path it is named after: the client node's route to the server's address.
path_is() {  # NODE ADDRESS DEVICE
  ip -n "$tag-$1" route get "$2" | grep -q "dev $3 " ||
    { echo "$1 does not route $2 over $3: $(ip -n "$tag-$1" route get "$2")" >&2; exit 1; }
}
# quasard's routes to the other node's block come with the watch
for i in $(seq $((100 * patience))); do
  ip -n "$tag-hga" route get "$hgb1" | grep -q "dev up0 " &&
    ip -n "$tag-pla" route get "$pal2" | grep -q "dev up0 " &&
    ip -n "$tag-pla" route get "$pfr2" | grep -q "dev up0 " &&
    ip -n "$tag-hna" route get "$hnb1" | grep -q "dev up0 " &&
    ip -n "$tag-vxa" route get "$vxb1" | grep -q "dev quasar.vxlan " &&
    { [ "$ipip" = 0 ] || ip -n "$tag-ipa" route get "$ipb1" | grep -q "dev tunl0 "; } && break
  sleep 0.2
done
path_is hga "$hgb1" up0
path_is vxa "$vxb1" quasar.vxlan
[ "$ipip" = 0 ] || path_is ipa "$ipb1" tunl0
path_is rfa "$rfb1" up0
path_is rca "$rcb1" up0
path_is hna "$hnb1" up0
path_is pla "$pfr2" up0
path_is pla "$pal2" up0
path_is plain "$flv1" up0  # on-link: the subnet's own route, nothing else
path_is plain "$flm1" up0
path_is vhost "$enp1" eth0  # to vpc-sim's router, which routes it to the pod's interface
# The policy rows cross quasar's chains on both nodes: they hold the rules of 1,001 policies, and
# the engine that programmed them says the measured pairs are allowed (a policy selects the
# "allowed" server; nothing selects the "free" pods).
for node in pla plb; do
  rules=$(ip netns exec "$tag-$node" iptables -S | grep -c '^-A QUASAR-' || true)
  [ "$rules" -ge 6000 ] ||
    { echo "$node has $rules rules in quasar's chains, not those of 1,001 policies" >&2; exit 1; }
done
explain_is() {  # FROM TO ISOLATED: allowed, and the server isolated (a policy selects it) or not
  plctl -o json policy explain --from "$1" --to "$2" --port 12865/TCP | python3 -c '
import json, sys
v = json.load(sys.stdin)
sys.exit(0 if v["allowed"] and v["ingress"]["isolated"] == (sys.argv[1] == "yes") else 1)' "$3" ||
    { echo "policy row: $1 -> $2: $(plctl policy explain --from "$1" --to "$2" \
        --port 12865/TCP)" >&2; exit 1; }
}
explain_is allowed/pal1 allowed/pal2 yes
explain_is free/pfr1 free/pfr2 no

# TCP_CRR opens thousands of connections a second to one address: a wide port range and reuse of
# TIME_WAIT ports in every client (alike for every row), so no round runs out of ports.
for row in "${rows[@]}"; do
  ip netns exec "$tag-$(field "$row" 2)" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
    net.ipv4.tcp_tw_reuse=1
done
# Every path answers before anything is measured (the routes of a freshly claimed block take a
# moment to reach the other node).
for row in "${rows[@]}"; do
  client=$(field "$row" 2)
  ip=$(field "$row" 4)
  n=$((100 * patience))
  for i in $(seq $n); do
    ip netns exec "$tag-$client" ping -c1 -W1 "$ip" >/dev/null 2>&1 && break
    [ "$i" -eq $n ] && { echo "no path for row $(field "$row" 1): $client -> $ip" >&2; exit 1; }
    sleep 0.2
  done
  n=$((50 * patience))
  for i in $(seq $n); do  # netserver listening
    ip netns exec "$tag-$client" "$np/netperf" -H "$ip" -l 1 -t TCP_RR -P 0 -- -o THROUGHPUT \
      >/dev/null 2>&1 && break
    [ "$i" -eq $n ] && { echo "no netserver for row $(field "$row" 1) at $ip" >&2; exit 1; }
    sleep 0.2
  done
done

limit=$((secs + 30 * patience))  # seconds one netperf or iperf3 client may take
netperf_once() {  # CLIENT IP ARGS...: prints the throughput; one retry, then fails
  local client=$1 ip=$2 v
  shift 2
  for _ in 1 2; do
    # shellcheck disable=SC2068
    if v=$(timeout "$limit" ip netns exec "$tag-$client" "$np/netperf" -H "$ip" -l "$secs" \
      -P 0 $@ -o THROUGHPUT 2>>"$dir/netperf.err") && [[ $v =~ ^[0-9.]+$ ]]; then
      echo "$v"
      return 0
    fi
    sleep 1
  done
  echo "netperf $* from $client to $ip failed:" >&2
  tail -5 "$dir/netperf.err" >&2
  return 1
}

iperf_once() {  # CLIENT IP ARGS...: prints the receiver's Mbit/s; one retry, then fails
  local client=$1 ip=$2 v
  shift 2
  for _ in 1 2; do
    # shellcheck disable=SC2068
    if v=$(timeout "$limit" ip netns exec "$tag-$client" iperf3 -c "$ip" -t "$secs" $@ -J \
      2>>"$dir/iperf3.err" | python3 -c '
import json, sys
print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' \
      2>>"$dir/iperf3.err") && [[ $v =~ ^[0-9.]+$ ]]; then
      echo "$v"
      return 0
    fi
    sleep 1  # the server takes one client at a time: the last one may still be closing
  done
  echo "iperf3 $* from $client to $ip failed:" >&2
  tail -5 "$dir/iperf3.err" >&2
  return 1
}

samples=$dir/samples.jsonl
echo "set up in ${SECONDS}s; running $rounds rounds x ${#rows[@]} rows x ${#tests[@]} tests" \
  "x ${secs}s..." >&2
for r in $(seq "$rounds"); do
  for row in "${rows[@]}"; do
    id=$(field "$row" 1)
    client=$(field "$row" 2)
    ip=$(field "$row" 4)
    for t in "${tests[@]}"; do
      test=$(field "$t" 1)
      args=$(field "$t" 3)
      if [ "$(field "$t" 2)" = iperf3 ]; then
        value=$(iperf_once "$client" "$ip" $args)
        flows=$value
      elif [ "$test" = stream8 ]; then
        flow_pids=()
        for f in $(seq 8); do
          netperf_once "$client" "$ip" $args >"$dir/flow$f" &
          flow_pids+=($!)
        done
        for p in "${flow_pids[@]}"; do wait "$p"; done
        flows=$(cat "$dir"/flow[1-8] | paste -sd,)
        value=$(cat "$dir"/flow[1-8] | awk '{s += $1} END {printf "%.2f", s}')
      else
        value=$(netperf_once "$client" "$ip" $args)
        flows=$value
      fi
      printf '{"round":%d,"row":"%s","test":"%s","value":%s,"flows":[%s]}\n' \
        "$r" "$id" "$test" "$value" "$flows" >>"$samples"
      printf 'round %d  %-7s %-8s %12s\n' "$r" "$id" "$test" "$value" >&2
    done
  done
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

# The run's description and every raw figure, then the report from that file alone.
printf '%s\n' "${rows[@]}" >"$dir/rows"
printf '%s\n' "${tests[@]}" >"$dir/tests"
NP_COMMAND="scripts/netperf-bench.sh $rounds $secs" NP_ROUNDS=$rounds NP_SECONDS=$secs \
  NP_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  NP_VERSION="$("$np/netperf" -V | sed 's/^Netperf version //')" \
  NP_LOAD_BEFORE=$load_before NP_LOAD_AFTER=$load_after NP_DIR=$dir \
  python3 - >"$out" <<'PY'
import datetime, json, os, platform
e = os.environ
def table(name):
    with open(os.path.join(e["NP_DIR"], name)) as f:
        return [line.rstrip("\n").split("|") for line in f if line.strip()]
with open(os.path.join(e["NP_DIR"], "samples.jsonl")) as f:
    samples = [json.loads(line) for line in f]
print(json.dumps({
    "command": e["NP_COMMAND"],
    "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    "machine": {"cores": os.cpu_count(), "cpu": e["NP_CPU"], "kernel": platform.release()},
    "netperf": e["NP_VERSION"], "rounds": int(e["NP_ROUNDS"]), "seconds": int(e["NP_SECONDS"]),
    "load_average": {"before": e["NP_LOAD_BEFORE"], "after": e["NP_LOAD_AFTER"]},
    "note": e.get("NETPERF_NOTE", ""), "floor": "node", "overlay": "vxlan",
    "rows": [{"id": r[0], "label": r[4]} for r in table("rows")],
    "tests": [{"id": t[0], "tool": t[1], "args": t[2], "label": t[3], "unit": t[4]}
              for t in table("tests")],
    "samples": samples}, indent=1))
PY
if [ "$in_vm" = 1 ]; then  # to the console, one line, for --vm outside to take
  echo "QUASAR_NETPERF_JSON $(python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin)))' <"$out")"
  exit 0
fi
echo "raw figures: $out" >&2

python3 "$report" "$out" --table
[ "${NETPERF_DOCS:-1}" != 0 ] || exit 0
python3 "$report" "$out" --chart "$quasar_root/docs/netperf.png" --section "$dir/section.md"
quasar_write_section "$quasar_root/docs/benchmarks.md" netperf <"$dir/section.md"
echo "wrote docs/benchmarks.md and docs/netperf.png" >&2
