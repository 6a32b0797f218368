#!/usr/bin/env bash
# A real CNI client: Debian's podman (runc, CNI backend), run inside a "node" namespace, starts
# containers on the shipped quasar conflist (quasar chained with portmap). They get addresses
# from quasard, reach each other, a published port is reached from another namespace through
# the node, and `podman rm` releases the addresses. Label: netns (needs root).
# usage: podman_test.sh BUILD_BIN_DIR REPO_ROOT
set -euo pipefail
bin=$1
root=$2
source "$root/scripts/lib.sh"
tag=qp$$
node=$tag-node
gw=$tag-gw
dir=$(mktemp -d /tmp/quasar-podman-XXXXXX)
export CONTAINERS_CONF=$dir/containers.conf
podman=(nsenter --net=/run/netns/$node podman --root "$dir/storage" --runroot "$dir/run"
  --storage-driver vfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
failures=0
passes=0

cleanup() {
  "${podman[@]}" rm -f -t 0 --all >/dev/null 2>&1 || true
  quasar_stop "$bin/quasard -c $dir/" || true
  ip netns del "$node" 2>/dev/null || true
  ip netns del "$gw" 2>/dev/null || true
  grep -o "$dir[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

check() {  # name, command...
  local name=$1
  shift
  if "$@"; then
    echo "[ OK ] $name"
    passes=$((passes + 1))
  else
    echo "[FAIL] $name"
    failures=$((failures + 1))
  fi
}

for tool in podman runc nsenter; do
  command -v "$tool" >/dev/null || { echo "podman_test: $tool is missing (scripts/setup.sh installs it)"; exit 1; }
done

quasar_node_netns "$node" "$gw" 10.252.0

printf 'socket: %s/quasard.sock\ncniSocket: %s/cni.sock\nstateDir: %s/state\npodCIDRs: [10.244.7.0/24]\n' \
  "$dir" "$dir" "$dir" >"$dir/quasard.yaml"
ip netns exec "$node" "$bin/quasard" -c "$dir/quasard.yaml" >/dev/null 2>"$dir/quasard.log" &
for _ in $(seq 100); do [ -S "$dir/quasard.sock" ] && break; sleep 0.05; done

# The shipped conflist, pointed at this test's quasard.
mkdir -p "$dir/net.d" "$dir/plugins"
sed -e "s#/run/quasar/cni.sock#$dir/cni.sock#; s#/var/log/quasar/cni.log#$dir/cni.log#" \
  "$root/conf/10-quasar.conflist" >"$dir/net.d/10-quasar.conflist"
ln -s "$bin/quasar" "$dir/plugins/quasar"
ln -s /usr/lib/cni/portmap "$dir/plugins/portmap"
cat >"$CONTAINERS_CONF" <<EOF2
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$dir/plugins"]
network_config_dir = "$dir/net.d"
default_network = "quasar"
EOF2

# Image: a busybox-static root file system.
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/www" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" \
  "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp /bin/busybox "$dir/rootfs/bin/"
for a in sh ping sleep httpd; do ln -s busybox "$dir/rootfs/bin/$a"; done
echo quasar-ok >"$dir/rootfs/www/index.html"
tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
"${podman[@]}" import "$dir/busybox.tar" localhost/quasar-busybox:test >/dev/null

"${podman[@]}" run -d --name c1 --network quasar "${limits[@]}" localhost/quasar-busybox:test sleep 300 >/dev/null
"${podman[@]}" run -d --name c2 --network quasar "${limits[@]}" localhost/quasar-busybox:test sleep 300 >/dev/null
ip1=$("${podman[@]}" inspect c1 --format '{{.NetworkSettings.Networks.quasar.IPAddress}}')
ip2=$("${podman[@]}" inspect c2 --format '{{.NetworkSettings.Networks.quasar.IPAddress}}')
echo "c1=$ip1 c2=$ip2"
in_cidr() { [[ $1 == 10.244.7.* ]]; }
check "containers get addresses from quasard's pod CIDR" in_cidr "$ip1"
check "second container too, and a different one" bash -c "[[ $ip2 == 10.244.7.* && $ip2 != $ip1 ]]"
allocs=$(ip netns exec "$node" "$bin/quasarctl" --socket "$dir/quasard.sock" ipam list)
check "quasard records both" bash -c "grep -q '$ip1/32' <<<\"\$0\" && grep -q '$ip2/32' <<<\"\$0\"" "$allocs"
check "c1 reaches c2" "${podman[@]}" exec c1 ping -c1 -W2 "$ip2"
check "c2 reaches the node" "${podman[@]}" exec c2 ping -c1 -W2 10.252.0.1

"${podman[@]}" run -d --name web -p 8080:80 --network quasar "${limits[@]}" localhost/quasar-busybox:test \
  httpd -f -p 80 -h /www >/dev/null
fetch() {
  timeout 5 ip netns exec "$gw" bash -c 'exec 3<>/dev/tcp/10.252.0.1/8080; printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3' 2>/dev/null | grep -q quasar-ok
}
ok=0
for _ in $(seq 20); do fetch && { ok=1; break; }; sleep 0.2; done
check "a port published with -p is reached from another namespace through the node (portmap)" test "$ok" -eq 1

"${podman[@]}" rm -f -t 0 c1 c2 web >/dev/null
left=$(ip netns exec "$node" "$bin/quasarctl" --socket "$dir/quasard.sock" -o json ipam list)
check "podman rm releases every address" test "$left" = "[]"

echo "$passes passed, $failures failed"
if [ "$failures" -ne 0 ]; then
  echo "--- quasard log"; cat "$dir/quasard.log"; echo "--- plugin log"; cat "$dir/cni.log" 2>/dev/null
fi
exit $((failures > 0))
