#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests in parallel, then the netns (root, kernel)
# suites one at a time. Needs root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
"$quasar_root/scripts/setup.sh"
"$quasar_root/scripts/build.sh"
cd "$quasar_build"
ctest --output-on-failure -L unit -j"$(nproc)"
ctest --output-on-failure -L netns
