# Sourced by the scripts: re-run as root (through sudo when it exists), and the repo's paths.
quasar_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quasar_build=${QUASAR_BUILD_DIR:-$quasar_root/build}

quasar_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -E "$@"; fi
    echo "$(basename "$1"): needs root, and there is no sudo" >&2
    exit 1
  fi
}

# quasar_node_netns NODE GW SUBNET: a "node" namespace whose uplink up0 (SUBNET.1/24) is a veth
# to a "gateway" namespace (SUBNET.254), with the default route through it. Used by the
# quickstart, the benchmarks and the podman test; nothing outside the two namespaces changes.
quasar_node_netns() {
  local node=$1 gw=$2 subnet=$3
  ip netns add "$node"
  ip netns add "$gw"
  ip -n "$node" link set lo up
  ip -n "$gw" link set lo up
  ip -n "$node" link add up0 type veth peer name down0 netns "$gw"
  ip -n "$node" addr add "$subnet.1/24" dev up0
  ip -n "$node" link set up0 up
  ip -n "$gw" addr add "$subnet.254/24" dev down0
  ip -n "$gw" link set down0 up
  ip -n "$node" route add default via "$subnet.254"
}

# quasar_write_section FILE NAME < CONTENT: replaces the part of FILE between
# "<!-- NAME:begin -->" and "<!-- NAME:end -->" (appending it when absent), so several
# benchmark scripts share docs/benchmarks.md.
quasar_write_section() {
  local file=$1 name=$2 content tmp
  content=$(mktemp)
  tmp=$(mktemp)
  { echo "<!-- $name:begin -->"; cat; echo "<!-- $name:end -->"; } >"$content"
  [ -f "$file" ] || echo "# Benchmarks" >"$file"
  if grep -q "<!-- $name:begin -->" "$file"; then
    awk -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" -v c="$content" '
      $0 == b { while ((getline line < c) > 0) print line; skip = 1; next }
      $0 == e { skip = 0; next }
      !skip { print }' "$file" >"$tmp"
  else
    { cat "$file"; echo; cat "$content"; } >"$tmp"
  fi
  mv "$tmp" "$file"
  rm -f "$content"
}

# quasar_stop PATTERN [SECONDS=3]: SIGTERM to every process whose command line contains
# PATTERN, SIGKILL to whatever is left after SECONDS. Fails if one survives even that.
quasar_stop() {
  local pattern=$1 seconds=${2:-3}
  pkill -f "$pattern" 2>/dev/null || true
  for _ in $(seq $((seconds * 10))); do pgrep -f "$pattern" >/dev/null || return 0; sleep 0.1; done
  pkill -9 -f "$pattern" 2>/dev/null || true
  for _ in $(seq 10); do pgrep -f "$pattern" >/dev/null || return 0; sleep 0.1; done
  echo "$(basename "$0"): could not stop $pattern" >&2
  return 1
}

# quasar_delete_netns PREFIX: removes the network namespaces whose names start with PREFIX (a
# basic regular expression, so a pattern such as qt[0-9][0-9]*- works too).
quasar_delete_netns() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$1" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# quasar_lan TAG: namespace TAG-lan holding a bridge, br0: the benchmarks' "physical" subnet.
quasar_lan() {
  ip netns add "$1-lan"
  ip -n "$1-lan" link add br0 type bridge
  ip -n "$1-lan" link set br0 up
}

# quasar_lan_attach TAG NAME ADDRESS/LEN PORT: namespace TAG-NAME (loopback up), its uplink up0
# with ADDRESS, on TAG-lan's bridge through the veth peer pPORT.
quasar_lan_attach() {
  local tag=$1 name=$2 address=$3 port=$4
  ip netns add "$tag-$name"
  ip -n "$tag-$name" link set lo up
  ip -n "$tag-$name" link add up0 type veth peer name "p$port" netns "$tag-lan"
  ip -n "$tag-lan" link set "p$port" master br0 up
  ip -n "$tag-$name" addr add "$address" dev up0
  ip -n "$tag-$name" link set up0 up
}
