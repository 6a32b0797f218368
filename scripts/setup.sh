#!/usr/bin/env bash
# Installs every build, run and test dependency of quasar from Debian's packages.
# Idempotent: packages already present are left alone; apt-get update runs only when needed.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  echo "setup.sh: needs root (and there is no sudo)" >&2
  exit 1
fi

packages=(
  # build
  build-essential cmake pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev
  nlohmann-json3-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev
  # the NetworkPolicy applier's ipsets (netpolicy/kernel/)
  libipset-dev
  # the Kubernetes API client (daemon/kube/); also the metrics tests' HTTP client
  libcurl4-openssl-dev
  # quasard's /healthz, /readyz and /metrics (daemon/metrics/)
  libmicrohttpd-dev
  # the EC2 backend (ipam/cloud/): its responses' XML, SigV4's SHA-256 and HMAC
  libpugixml-dev libssl-dev
  # the fuzz targets (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
  clang-14 libclang-rt-14-dev
  # run and test
  iproute2 iptables ipset procps sqlite3 psmisc iputils-ping strace curl
  containernetworking-plugins podman runc busybox-static util-linux etcd-server etcd-client openssl
  python3
  # the VM that runs the IPIP tests (scripts/vm-test.sh)
  qemu-system-x86 cpio binutils
  # the data-path benchmark (scripts/netperf-bench.sh): iperf3 as a second opinion on bulk
  # throughput (netperf: below), gnuplot for its chart
  iperf3 gnuplot-nox
)

# netperf (the data-path benchmark, scripts/netperf-bench.sh) is in Debian's non-free component:
# a deb822 source of that component alone, pinned so that netperf is the one package apt may take
# from it. It is unpacked below, not installed.
nonfree_source=/etc/apt/sources.list.d/quasar-netperf.sources
need_update=0
if [ ! -f "$nonfree_source" ]; then
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  cat >/etc/apt/preferences.d/quasar-netperf <<EOF
Package: netperf
Pin: release c=non-free
Pin-Priority: 500

Package: *
Pin: release c=non-free
Pin-Priority: -1
EOF
  cat >"$nonfree_source" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  need_update=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl drives the Kubernetes API server stand-in's tests: the machine's own where it has one,
# else Debian's.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  need_update=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$need_update" -eq 0 ] || apt-get update -qq
# The kernel for scripts/vm-test.sh: Debian's own (it has the ipip module), unpacked, not
# installed. Fetched again only when Debian's current linux-image-amd64 points elsewhere.
vm_kernel_dir=/var/cache/quasar/vm-kernel
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
if [ -z "$kernel_pkg" ]; then
  apt-get update -qq
  kernel_pkg=$(apt-cache depends linux-image-amd64 |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
fi
if [ ! -f "$vm_kernel_dir/.from-$kernel_pkg" ]; then
  echo "setup.sh: fetching $kernel_pkg for the VM tests"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$kernel_pkg")
  dpkg-deb -x "$tmp"/"$kernel_pkg"_*.deb "$tmp/x"
  rm -rf "$vm_kernel_dir"
  mkdir -p "$vm_kernel_dir/lib"
  cp "$tmp"/x/boot/vmlinuz-* "$vm_kernel_dir/vmlinuz"
  cp -a "$tmp/x/lib/modules" "$vm_kernel_dir/lib/"
  touch "$vm_kernel_dir/.from-$kernel_pkg"
  rm -rf "$tmp"
fi
# unpack PACKAGE DIR PROGRAM...: the PROGRAMs of Debian's PACKAGE (its /usr/bin) into DIR/usr/bin,
# unpacked, not installed; fetched again only when the first is missing.
unpack() {
  local package=$1 dir=$2 tmp
  shift 2
  [ ! -x "$dir/usr/bin/$1" ] || return 0
  echo "setup.sh: fetching $* (from Debian's $package package, not installed)"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$package") || {
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$package")
  }
  dpkg-deb -x "$tmp/$package"_*.deb "$tmp/x"
  rm -rf "$dir"
  mkdir -p "$dir/usr/bin"
  for program in "$@"; do cp "$tmp/x/usr/bin/$program" "$dir/usr/bin/"; done
  rm -rf "$tmp"
}
# promtool checks quasard's /metrics exposition (daemon/metrics tests). It ships in Debian's
# `prometheus` package with the Prometheus server, whose service must never run on a test host.
unpack prometheus /var/cache/quasar/promtool promtool
/var/cache/quasar/promtool/usr/bin/promtool --version >/dev/null
# netperf's package starts a netserver at boot (its init script): unpacked too.
unpack netperf /var/cache/quasar/netperf netperf netserver
/var/cache/quasar/netperf/usr/bin/netperf -V >/dev/null
echo "setup.sh: all dependencies present"
