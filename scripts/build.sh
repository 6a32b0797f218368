#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin/).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cmake -S "$quasar_root" -B "$quasar_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$quasar_build" -j"$(nproc)"
