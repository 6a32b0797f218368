#!/usr/bin/env bash
# Runs a command inside a fresh network namespace with only loopback up, and removes the
# namespace afterwards (also when the command fails). For tests whose servers (etcd) must not
# listen anywhere on the host. Needs root. The command finds the namespace's name in
# $QUASAR_TEST_NETNS.
set -uo pipefail
ns=qt$$x0-solo
ip netns add "$ns" || exit 1
trap 'ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
QUASAR_TEST_NETNS=$ns ip netns exec "$ns" "$@"
