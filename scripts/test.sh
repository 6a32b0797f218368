#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests in parallel, then the netns (root, kernel)
# suites one at a time, then the `vm` label inside a VM with Debian's kernel (scripts/vm-test.sh:
# the IPIP tests, which need a module this machine's kernel lacks). Then the same unit and netns
# tests in an ASan+UBSan build (build-asan/), the tests labelled `tsan` in a ThreadSanitizer
# build of just what they need (build-tsan/), and the fuzz targets for a bounded time each
# (scripts/fuzz.sh). Those three builds run in the background, niced, while the plain tests run;
# the ASan tests start when the ASan build is done, beside the other two.
# A plain failure shows first (README.md, "Tests"). Needs root. Whatever a crashed test run
# leaves (its namespaces, named qt<pid>x<n>-*, its quasard processes, the background builds) is
# removed on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"

asan_build=$quasar_root/build-asan
tsan_build=$quasar_root/build-tsan
background_log=$quasar_build/background-builds.log
asan_ready=$quasar_build/asan-build.done
background_pid=

cleanup() {
  if [ -n "$background_pid" ]; then kill -- -"$background_pid" 2>/dev/null || true; fi
  for b in "$quasar_build" "$asan_build"; do
    quasar_stop "$b/bin/quasard -c /tmp/quasar-e2e-" || true
  done
  quasar_delete_netns 'qt[0-9][0-9]*x[0-9][0-9]*-'
}
trap cleanup EXIT

stage() { echo "=== test.sh: $* ($(date -u +%H:%M:%S))"; }

# The sanitizer and fuzz builds: their own process group (cleanup() stops it), at the lowest CPU
# priority.
background_builds() {
  set -euo pipefail
  QUASAR_BUILD_DIR=$asan_build "$quasar_root/scripts/build.sh" -DQUASAR_SANITIZE=address
  echo "test.sh: ASan+UBSan build done ($(date -u +%H:%M:%S))"
  touch "$asan_ready"
  cmake -S "$quasar_root" -B "$tsan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DQUASAR_SANITIZE=thread >/dev/null
  # Test names are their targets' names (cmake/quasar.cmake); quasard is built to prove it builds.
  mapfile -t tsan_tests < <(cd "$tsan_build" && ctest -N -L tsan | awk '/Test +#/ {print $3}')
  [ "${#tsan_tests[@]}" -gt 0 ] || { echo "test.sh: no test is labelled tsan" >&2; exit 1; }
  cmake --build "$tsan_build" -j"$(nproc)" --target quasard "${tsan_tests[@]}"
  echo "test.sh: TSan build done ($(date -u +%H:%M:%S))"
  "$quasar_root/scripts/fuzz.sh" --build-only
  echo "test.sh: fuzz build done ($(date -u +%H:%M:%S))"
}

stage "plain build"
"$quasar_root/scripts/setup.sh"
"$quasar_root/scripts/build.sh"

# While the plain tests run, the sanitizer and fuzz builds go on beside them at nice 19: the tests
# mostly wait (on the kernel, daemons, timers), and a niced compiler only takes the CPU they
# leave idle. This takes the three builds (about half of CI's time) off the critical path.
stage "background: ASan+UBSan, TSan and fuzz builds (log: $background_log)"
export -f background_builds
export quasar_root asan_build tsan_build asan_ready
rm -f "$asan_ready"
setsid -w nice -n 19 bash -c background_builds >"$background_log" 2>&1 &
background_pid=$!

stage "plain unit, netns, vm"
cd "$quasar_build"
ctest --output-on-failure --no-tests=error -L unit -j"$(nproc)"
ctest --output-on-failure --no-tests=error -L netns
"$quasar_root/scripts/vm-test.sh"

# A failed background build: its log's end, and stop.
background_failed() {
  background_pid=
  echo "test.sh: a background build failed; the end of $background_log:" >&2
  tail -60 "$background_log" >&2
  exit 1
}

# The ASan tests start as soon as the ASan build is done; the TSan and fuzz builds go on beside
# them (they come after it in background_builds).
stage "waiting for the ASan+UBSan build"
while [ ! -e "$asan_ready" ] && kill -0 "$background_pid" 2>/dev/null; do sleep 5; done
if [ ! -e "$asan_ready" ]; then
  wait "$background_pid" || true
  background_failed
fi

# Every sanitizer finding fails its test: ASan stops at the first error, UBSan is built with
# -fno-sanitize-recover (and told to halt too), LeakSanitizer runs at exit.
stage "ASan+UBSan unit, netns"
(
  export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  cd "$asan_build"
  ctest --output-on-failure --no-tests=error -L unit -j"$(nproc)"
  # podman runs the plugin itself, with its own environment; the plain stage above runs it.
  # k8s_standin_test runs no quasar code (the Python stand-in and kubectl).
  # cluster_e2e_test (137 s here) and netpol_conformance_test (119 s): CI's 90 minutes; their
  # daemon threads and compiled rules are what cni_e2e_test, policy_e2e_test and the tsan
  # tests cover under the sanitizers too.
  echo "test.sh: NOTE: podman_test, k8s_standin_test, cluster_e2e_test and" \
    "netpol_conformance_test are NOT run under ASan (they ran in the plain stage)" >&2
  ctest --output-on-failure --no-tests=error -L netns \
    -E '^(podman_test|k8s_standin_test|cluster_e2e_test|netpol_conformance_test)$'
)

stage "waiting for the TSan and fuzz builds"
wait "$background_pid" || background_failed
background_pid=
grep '^test.sh: ' "$background_log" || true

stage "TSan, tsan label"
(
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  cd "$tsan_build"
  ctest --output-on-failure --no-tests=error -L tsan -j"$(nproc)"
)

stage "fuzz"
# 30 s per target keeps CI inside its budget (README.md, "Tests").
"$quasar_root/scripts/fuzz.sh" 30
stage "done"
