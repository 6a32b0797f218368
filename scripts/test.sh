#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests in parallel, then the netns (root, kernel)
# suites one at a time, then the `vm` label inside a VM with Debian's kernel (scripts/vm-test.sh:
# the IPIP tests, which need a module this machine's kernel lacks). Needs root. Whatever a crashed test run leaves (its namespaces, named
# qt<pid>x<n>-*, and its quasard processes) is removed on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"

cleanup() {
  quasar_stop "$quasar_build/bin/quasard -c /tmp/quasar-e2e-" || true
  quasar_delete_netns 'qt[0-9][0-9]*x[0-9][0-9]*-'
}
trap cleanup EXIT

"$quasar_root/scripts/setup.sh"
"$quasar_root/scripts/build.sh"
cd "$quasar_build"
ctest --output-on-failure --no-tests=error -L unit -j"$(nproc)"
ctest --output-on-failure --no-tests=error -L netns
"$quasar_root/scripts/vm-test.sh"
