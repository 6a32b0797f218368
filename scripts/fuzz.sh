#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in a build dir of their
# own and runs each for a bounded time on a copy of its seed corpus (tests/fuzz/corpus/<target>),
# so the repository is never modified. Fails if any target crashes, leaks, times out or runs out
# of memory; the input that did it is kept in <build dir>/crashes/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#   scripts/fuzz.sh --build-only     (the targets built, none run: scripts/test.sh builds early)
#
# Build dir: $QUASAR_BUILD_DIR-fuzz when QUASAR_BUILD_DIR is set, else build/fuzz. Honours the
# ccache environment (/work/ccache.env: CMAKE_CXX_COMPILER_LAUNCHER) like scripts/build.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds=${1:-60}
shift || true
build_only=0
if [ "$seconds" = "--build-only" ]; then build_only=1; fi
targets=("$@")
[ "${#targets[@]}" -gt 0 ] ||
  targets=(net_conf cni_args prev_result k8s_object plugin_wire netlink)
fuzz_build=${QUASAR_BUILD_DIR:+$QUASAR_BUILD_DIR-fuzz}
fuzz_build=${fuzz_build:-$quasar_root/build/fuzz}
clang=${QUASAR_FUZZ_CLANG:-clang-14}

if ! command -v "$clang" >/dev/null || ! command -v "${clang/clang/clang++}" >/dev/null; then
  echo "fuzz.sh: $clang not found (scripts/setup.sh installs clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

CC=$clang CXX=${clang/clang/clang++} cmake -S "$quasar_root" -B "$fuzz_build" -DQUASAR_FUZZ=ON \
  -DQUASAR_STATIC_CNI=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"
[ "$build_only" -eq 0 ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp -r "$quasar_root/tests/fuzz/corpus/$t/." "$work/$t/corpus/"
  start=$(date +%s)
  if (cd "$work/$t" && "$fuzz_build/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
    corpus >"$work/$t/log" 2>&1); then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
    echo "fuzz.sh: $t: ok, ${runs:-?} runs in $(($(date +%s) - start)) s"
  else
    failed+=("$t")
    mkdir -p "$fuzz_build/crashes/$t"
    cp -r "$work/$t/artifacts/." "$fuzz_build/crashes/$t/"
    cp "$work/$t/log" "$fuzz_build/crashes/$t/log"
    echo "fuzz.sh: $t: FAILED; inputs and log in $fuzz_build/crashes/$t/" >&2
    grep -E "ERROR|SUMMARY|==[0-9]+==|runtime error" "$work/$t/log" | head -20 >&2 || true
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds} s each without a crash"
