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
  # run and test
  iproute2 iptables ipset procps sqlite3 psmisc iputils-ping strace
  containernetworking-plugins podman runc busybox-static util-linux etcd-server etcd-client openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup.sh: all dependencies present"
