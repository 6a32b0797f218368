#!/usr/bin/env bash
# The main job in one command: quasard on the embedded store in a "node" namespace, three pods
# (namespaces) getting addresses from it through the real CNI plugin and pinging each other and
# the node, a floating-IP pod reached from a plain host on the node's subnet (and given its
# address back when recreated), a NetworkPolicy that blocks and then allows (and
# `quasarctl policy explain` saying why), then `quasarctl status`, the allocations, /readyz and
# metrics; last, ENI mode on a cloud node of vpc-sim, the emulated VPC (a stand-in for EC2):
# pods on VPC addresses, reached from a VPC host, with the node's max pods and warm pool.
# Tears everything down at the end unless --keep is given. Never touches the root namespace.
# Needs root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"

keep=0
[ "${1:-}" = "--keep" ] && keep=1

"$quasar_root/scripts/setup.sh" >/dev/null
echo "==> building"
"$quasar_root/scripts/build.sh" >/dev/null

bin=$quasar_build/bin
node=quasar-demo-node
gw=quasar-demo-gw
pods=(quasar-demo-pod1 quasar-demo-pod2 quasar-demo-pod3)
legacy_pod=quasar-demo-legacy
cloud_node=quasar-demo-cloud-node
cloud_pods=(quasar-demo-cloud-pod1 quasar-demo-cloud-pod2 quasar-demo-cloud-pod3 quasar-demo-cloud-pod4)
state=/run/quasar-demo
sock=$state/quasard.sock
conf='{"cniVersion":"1.1.0","name":"quasar","type":"quasar","socket":"'$state/cni.sock'","logFile":"'$state'/cni.log"}'
cloud_conf='{"cniVersion":"1.1.0","name":"quasar","type":"quasar","socket":"'$state/cloud/cni.sock'"}'

teardown() {
  if ip netns list | grep -qw "$node"; then
    for c in demo0 demo1 demo2 legacy1 legacy2; do
      echo "$conf" | ip netns exec "$node" env CNI_COMMAND=DEL CNI_CONTAINERID="$c" \
        CNI_IFNAME=eth0 "$bin/quasar" >/dev/null 2>&1 || true
    done
  fi
  if ip netns list | grep -qw "$cloud_node"; then
    for i in 0 1 2 3; do
      echo "$cloud_conf" | ip netns exec "$cloud_node" env CNI_COMMAND=DEL CNI_CONTAINERID="cloud$i" \
        CNI_IFNAME=eth0 "$bin/quasar" >/dev/null 2>&1 || true
    done
  fi
  for f in quasard cloud-quasard vpc-sim; do
    [ -f "$state/$f.pid" ] && kill "$(cat "$state/$f.pid")" 2>/dev/null && sleep 0.3
  done
  for ns in "${pods[@]}" "$legacy_pod" "$node" "$gw" "${cloud_pods[@]}" "$cloud_node" \
    quasar-demo-vpcr quasar-demo-vpc-host; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$state"
}

if ip netns list | grep -qw "$node"; then
  echo "==> removing the previous demo"
  teardown
fi
if [ "$keep" -eq 0 ]; then trap teardown EXIT; else trap '[ $? -ne 0 ] && teardown' EXIT; fi

echo "==> node namespace $node with uplink 10.250.0.1/24 (gateway namespace $gw)"
mkdir -p "$state"
quasar_node_netns "$node" "$gw" 10.250.0

cat > "$state/quasard.yaml" <<YAML
nodeName: demo-node
socket: $sock
cniSocket: $state/cni.sock
stateDir: $state/state
podCIDRs: [10.244.1.0/24]
metricsAddress: 127.0.0.1:9617
YAML
echo "==> starting quasard (embedded SQLite store in $state/state)"
ip netns exec "$node" "$bin/quasard" -c "$state/quasard.yaml" >/dev/null 2>"$state/quasard.log" &
echo $! >"$state/quasard.pid"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$state/quasard.log"; exit 1; }

ips=()
for i in "${!pods[@]}"; do
  ip netns add "${pods[$i]}"
  out=$(echo "$conf" | ip netns exec "$node" env CNI_COMMAND=ADD CNI_CONTAINERID="demo$i" \
    CNI_NETNS="/run/netns/${pods[$i]}" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=pod$((i + 1))" "$bin/quasar" 2>>"$state/cni.stderr")
  ip=$(echo "$out" | grep -o '"address":"[0-9.]*' | cut -d'"' -f4)
  ips+=("$ip")
  echo "==> ${pods[$i]} got $ip"
done

echo "==> traffic"
ping_ok() {
  if ip netns exec "$1" ping -c1 -W2 "$2" >/dev/null; then echo "    $1 -> $2 ok"; else echo "    $1 -> $2 FAILED"; return 1; fi
}
ping_ok "${pods[0]}" "${ips[1]}"
ping_ok "${pods[1]}" "${ips[2]}"
ping_ok "${pods[2]}" "${ips[0]}"
ping_ok "${pods[0]}" 10.250.0.1

echo "==> a floating IP: an address on the node's own subnet, reached from a plain host"
cat >"$state/floating.yaml" <<YAML
apiVersion: quasar.io/v1
kind: FloatingIPPool
metadata: {name: underlay}
spec: {subnet: 10.250.0.0/24, gateway: 10.250.0.254, ranges: ["10.250.0.100-10.250.0.109"]}
---
apiVersion: v1
kind: Pod
metadata:
  name: legacy-db
  namespace: demo
  annotations: {quasar.io/floating-ip: "true", quasar.io/release-policy: immutable}
spec: {containers: [{name: db, image: postgres}]}
YAML
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" apply -f "$state/floating.yaml"
ip netns add "$legacy_pod"
legacy_cni() {
  echo "$conf" | ip netns exec "$node" env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS="/run/netns/$legacy_pod" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=legacy-db" "$bin/quasar" 2>>"$state/cni.stderr"
}
fip=$(legacy_cni ADD legacy1 | grep -o '"address":"[0-9.]*' | cut -d'"' -f4)
echo "==> demo/legacy-db got floating IP $fip"
ping_ok "$gw" "$fip"
legacy_cni DEL legacy1 >/dev/null
again=$(legacy_cni ADD legacy2 | grep -o '"address":"[0-9.]*' | cut -d'"' -f4)
echo "==> recreated with release-policy immutable: it got $again back"
[ "$again" = "$fip" ] || { echo "    expected $fip"; exit 1; }
ping_ok "$gw" "$again"
echo

echo "==> NetworkPolicy: web (pod2) takes traffic only from clients (pod1)"
cat >"$state/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: pod1, namespace: demo, labels: {role: client}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pod2, namespace: demo, labels: {app: web}}
spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pod3, namespace: demo, labels: {role: batch}}
spec: {containers: [{name: c, image: busybox}]}
YAML
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" apply -f "$state/pods.yaml" >/dev/null
cat >"$state/deny.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny-all, namespace: demo}
spec: {podSelector: {matchLabels: {app: web}}}
YAML
cat >"$state/allow.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}]}]
YAML
# Waits (up to 5 s) until ping from $1 to $2 gives the wanted result: ok or denied. A denied
# ping is answered at once ("administratively prohibited"), so no timeout is waited out.
ping_until() {
  for _ in $(seq 50); do
    if ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; then got=ok; else got=denied; fi
    if [ "$got" = "$3" ]; then echo "    $1 -> $2 $got"; return 0; fi
    sleep 0.1
  done
  echo "    $1 -> $2 $got, expected $3"; return 1
}
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" apply -f "$state/deny.yaml"
ping_until "${pods[0]}" "${ips[1]}" denied
ping_until "${pods[2]}" "${ips[1]}" denied
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" apply -f "$state/allow.yaml"
ping_until "${pods[0]}" "${ips[1]}" ok
ping_until "${pods[2]}" "${ips[1]}" denied
echo "==> quasarctl policy explain"
for from in demo/pod1 demo/pod3; do
  ip netns exec "$node" "$bin/quasarctl" --socket "$sock" policy explain \
    --from "$from" --to demo/pod2 --port 80/TCP
done
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" policy status
echo

echo "==> quasarctl status"
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" status
echo
echo "==> quasarctl ipam list"
ip netns exec "$node" "$bin/quasarctl" --socket "$sock" ipam list
echo
echo "==> health and metrics (http://127.0.0.1:9617 in the node's namespace)"
ip netns exec "$node" curl -sS --max-time 5 http://127.0.0.1:9617/readyz
ip netns exec "$node" curl -sS --max-time 5 http://127.0.0.1:9617/metrics |
  grep -E '^quasar_(cni_requests_total|ipam_pool_addresses_in_use|watch_synced)' | head -8

echo
echo "==> ENI multi-IP: a cloud node's pods take VPC addresses (vpc-sim: an emulated VPC, a"
echo "    stand-in for EC2 speaking its API; quasard uses its production EC2 client)"
mkdir -p "$state/cloud"
cat >"$state/cloud/vpc.json" <<JSON
{"routerNetns": "quasar-demo-vpcr", "region": "us-sim-1", "vpcCidr": "10.30.0.0/16",
 "apiPort": 8080, "imdsPort": 80,
 "credentials": {"accessKeyId": "AKIDVPCSIMEXAMPLE01", "secretAccessKey": "vpc-sim/secret+key/EXAMPLE",
                 "sessionToken": "vpc-sim-session-token", "role": "quasar-node"},
 "subnets": [{"id": "subnet-a", "cidr": "10.30.1.0/24", "az": "us-sim-1a"},
             {"id": "subnet-b", "cidr": "10.30.2.0/24", "az": "us-sim-1a"}],
 "securityGroups": [{"id": "sg-00000000000000001", "name": "nodes"}],
 "instanceTypes": [{"name": "sim.large", "maxInterfaces": 3, "ipv4PerInterface": 4}],
 "instances": [{"id": "i-00000000000000001", "type": "sim.large", "subnet": "subnet-a",
                "primaryIp": "10.30.1.11", "netns": "$cloud_node"}],
 "vpcHosts": [{"name": "host", "netns": "quasar-demo-vpc-host", "ip": "10.30.2.50"}]}
JSON
python3 "$quasar_root/tests/vpc/vpc_sim.py" --config "$state/cloud/vpc.json" \
  --control "$state/cloud/vpc.sock" >/dev/null 2>"$state/cloud/vpc-sim.log" &
echo $! >"$state/vpc-sim.pid"
for _ in $(seq 200); do [ -S "$state/cloud/vpc.sock" ] && break; sleep 0.05; done
[ -S "$state/cloud/vpc.sock" ] || { cat "$state/cloud/vpc-sim.log"; exit 1; }
for _ in $(seq 200); do
  curl -sf --unix-socket "$state/cloud/vpc.sock" http://vpc/state >/dev/null && break
  sleep 0.05
done
cat >"$state/cloud/quasard.yaml" <<YAML
nodeName: cloud-node
socket: $state/cloud/quasard.sock
cniSocket: $state/cloud/cni.sock
stateDir: $state/cloud/state
podCIDRs: [10.244.9.0/24]
routingMode: host-gw
metricsAddress: ""
eni:
  ec2Endpoint: http://10.30.1.1:8080
  imdsEndpoint: http://169.254.169.254:80
  warmIPTarget: 2
  refillSeconds: 1
YAML
echo "==> quasard on instance i-00000000000000001 (sim.large: 3 interfaces x 4 addresses),"
echo "    region and credentials from the metadata service"
ip netns exec "$cloud_node" "$bin/quasard" -c "$state/cloud/quasard.yaml" >/dev/null \
  2>"$state/cloud/quasard.log" &
echo $! >"$state/cloud-quasard.pid"
for _ in $(seq 200); do [ -S "$state/cloud/quasard.sock" ] && break; sleep 0.05; done
[ -S "$state/cloud/quasard.sock" ] || { cat "$state/cloud/quasard.log"; exit 1; }
cloud_ips=()
for i in "${!cloud_pods[@]}"; do
  ip netns add "${cloud_pods[$i]}"
  out=$(echo "$cloud_conf" | ip netns exec "$cloud_node" env CNI_COMMAND=ADD CNI_CONTAINERID="cloud$i" \
    CNI_NETNS="/run/netns/${cloud_pods[$i]}" CNI_IFNAME=eth0 "$bin/quasar" 2>>"$state/cni.stderr")
  ip=$(echo "$out" | grep -o '"address":"[0-9.]*' | cut -d'"' -f4)
  [ -n "$ip" ] || { echo "    ADD failed: $out"; exit 1; }
  cloud_ips+=("$ip")
  echo "==> ${cloud_pods[$i]} got VPC address $ip"
done
echo "==> the VPC routes them: no overlay, no NAT"
for ip in "${cloud_ips[@]}"; do ping_ok quasar-demo-vpc-host "$ip"; done
ping_ok "${cloud_pods[3]}" 10.30.2.50
echo "==> policy rules: replies leave by the interface that owns the address"
ip -n "$cloud_node" rule | grep "proto 114" | sed "s/^/    /"
ip netns exec "$cloud_node" "$bin/quasarctl" --socket "$state/cloud/quasard.sock" status |
  sed -n '/^ENI mode/,$p'
echo

if [ "$keep" -eq 1 ]; then
  cat <<MSG

The demo is still running. Look around:
  ip netns exec $node $bin/quasarctl --socket $sock status
  ip -n $node route                 # a /32 per pod through its qsr* veth
  ip -n ${pods[0]} addr; ip -n ${pods[0]} route
  ip netns exec $node iptables-save -t filter; ip netns exec $node ipset list   # the policies
  cat $state/quasard.log $state/cni.log
Tear it down with: $0   (it removes the previous demo first), or by hand:
  kill \$(cat $state/quasard.pid); for n in ${pods[*]} $node $gw; do ip netns del \$n; done; rm -rf $state
MSG
else
  echo
  echo "==> tearing down (run with --keep to look around)"
fi
