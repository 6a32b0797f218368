#!/usr/bin/env bash
# Fails when a folder includes a header its layer may not use (docs/architecture.md, STYLE.md).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
fail=0
check() {  # folder, forbidden include pattern, why
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$1" --include='*.h' --include='*.cc' 2>/dev/null || true)
  if [ -n "$hits" ]; then
    echo "layering: $1 may not include ($2): $3"; echo "$hits"; fail=1
  fi
}
check conf    'routing/|ipam/|netpolicy/|daemon/|cni/' 'conf/ is the bottom layer'
check routing 'ipam/|netpolicy/|daemon/|cni/|sqlite3|grpc' 'routing/ may use only conf/'
check ipam    'routing/|netpolicy/|daemon/|cni/|libmnl|linux/netlink|netlink/' 'ipam/ may use only conf/'
check netpolicy 'routing/|ipam/|daemon/|cni/|libmnl|sqlite3' 'netpolicy/ may use only conf/'
check cni     'daemon/|netpolicy/|sqlite3|grpc|ipam/(allocation|address|range|group|sqlite)[a-z_]*\.h' 'cni/ may use conf/, routing/ and the daemon API (ipam/ipam.pb.h, ipam/plugin_wire.h), not gRPC'
for d in conf ipam netpolicy daemon cni; do
  check "$d" 'libmnl|linux/rtnetlink|linux/netlink|linux/if_link' 'only routing/ speaks netlink'
done
for d in conf routing netpolicy cni; do
  check "$d" 'sqlite3' 'only the store backends see SQLite'
done
hits=$(grep -rlE '^#include [<"]sqlite3' daemon ipam --include='*.h' --include='*.cc' |
  grep -vE '^(daemon/sqlite_kv_store|ipam/sqlite_store|ipam/sqlite_db)\.(h|cc)$' || true)
if [ -n "$hits" ]; then echo "layering: only the store backends see SQLite: $hits"; fail=1; fi
hits=$(grep -rlE '^#include [<"](daemon/etcd/|etcd)' conf routing ipam netpolicy cni daemon \
  --include='*.h' --include='*.cc' | grep -vE '^daemon/etcd_store\.(h|cc)$' || true)
if [ -n "$hits" ]; then echo "layering: only the etcd backend sees etcd's API: $hits"; fail=1; fi
[ "$fail" -eq 0 ] && echo "layering: ok"
exit "$fail"
