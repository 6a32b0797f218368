#!/usr/bin/env bash
# NetworkPolicy benchmark (issue 14): 1,000 policies over 10,000 pods (and over 1,000) through
# the real applier (LinuxPolicyKernel + Applier, what quasard runs) on the real kernel, against
# the floor of the kernel tools loading the same state from files; pod events and policy
# changes at 10,000 pods; rule, set and member counts; then a real quasard in a node namespace
# loaded with the same objects through quasarctl apply. Writes its section of
# docs/benchmarks.md. Needs root; only namespaces of its own are touched.
# usage: scripts/bench-policy.sh [ROUNDS=5]
#   env: QUASAR_POLICY_EVENTS (200 per kind), QUASAR_POLICY_CHANGES (10 per kind),
#        QUASAR_E2E_PODS (10000; 0 skips the quasard part and the ADDs),
#        QUASAR_ADD_CYCLES (200: ADD/DEL cycles of each kind of pod with the policies in place)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quasar_need_root "$0" "$@"
rounds=${1:-5}
events=${QUASAR_POLICY_EVENTS:-200}
changes=${QUASAR_POLICY_CHANGES:-10}
e2e_pods=${QUASAR_E2E_PODS:-10000}
add_cycles=${QUASAR_ADD_CYCLES:-200}
policies=1000

"$quasar_root/scripts/setup.sh" >/dev/null
cmake -S "$quasar_root" -B "$quasar_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$quasar_build" -j"$(nproc)" --target bench_policy bench_cni quasar quasard \
  quasarctl >/dev/null
bin=$quasar_build/bin
tag=qp$$
dir=$(mktemp -d /tmp/quasar-bench-policy-XXXXXX)
quasard_pid=

cleanup() {
  [ -n "$quasard_pid" ] && kill "$quasard_pid" 2>/dev/null && wait "$quasard_pid" 2>/dev/null
  quasar_stop "$dir/" || true
  quasar_delete_netns "$tag-" 2>/dev/null # `ip` complains of peers gone meanwhile
  rm -rf "$dir"
}
trap cleanup EXIT

# 1-4: the driver in a throwaway namespace (unshare -n); it moves into a fresh one of its own
# for every measurement, so nothing is left when it exits, however it exits.
echo "full syncs ($rounds rounds x 2 sizes, interleaved with the floor), $events pod events" \
  "and $changes policy changes of each kind..." >&2
table=$(unshare -n "$bin/bench_policy" kernel "$rounds" "$policies" 1000,10000 "$events" \
  "$changes")
echo "$table"

# 5: quasard end to end, in a node namespace, on its embedded SQLite store.
e2e=""
adds="(not run: QUASAR_E2E_PODS=0)"
add_failed=0
if [ "$e2e_pods" -gt 0 ]; then
  quasar_node_netns "$tag-node" "$tag-gw" 10.253.0
  mkdir -p "$dir/objects"
  cat >"$dir/quasard.yaml" <<YAML
nodeName: bench-node
socket: $dir/quasard.sock
cniSocket: $dir/cni.sock
stateDir: $dir/state
podCIDRs: [10.244.0.0/16]
logLevel: warn
YAML
  ctl() { ip netns exec "$tag-node" "$bin/quasarctl" --socket "$dir/quasard.sock" "$@"; }
  ip netns exec "$tag-node" "$bin/quasard" -c "$dir/quasard.yaml" >/dev/null 2>"$dir/quasard.log" &
  quasard_pid=$! # `ip netns exec` execs in place: this is quasard's pid
  for i in $(seq 100); do
    ctl status >/dev/null 2>&1 && break
    [ "$i" = 100 ] && { echo "quasard did not come up: $(cat "$dir/quasard.log")" >&2; exit 1; }
    sleep 0.1
  done
  rss() { awk '/^VmRSS/ {print $2}' "/proc/$quasard_pid/status"; }
  rss_before=$(rss)
  mapfile -t files < <("$bin/bench_policy" objects "$dir/objects" "$e2e_pods" "$policies" 1000 \
    bench-node)
  echo "quasard: applying ${#files[@]} files ($policies policies, $e2e_pods pods)..." >&2
  t0=$(date +%s.%N)
  for f in "${files[@]}"; do ctl apply -f "$f" >/dev/null; done
  t_applied=$(date +%s.%N)
  status=""
  for _ in $(seq 1200); do # 0.1 s apart: at most two minutes
    status=$(ctl -o json policy status)
    echo "$status" | python3 -c '
import json, sys; s = json.load(sys.stdin)
sys.exit(0 if s["ready"] and s["policies"] == int(sys.argv[1]) and s["pods"] == int(sys.argv[2])
         else 1)' "$policies" "$e2e_pods" && break
    status=""
    sleep 0.1
  done
  t_done=$(date +%s.%N)
  [ -n "$status" ] || { echo "quasard never showed every object applied: $(ctl policy status)" >&2; exit 1; }
  rss_after=$(rss)
  e2e=$(echo "$status" | python3 -c '
import json, sys; s = json.load(sys.stdin)
t0, ta, td, rb, ra, n = map(float, sys.argv[1:7])
print("| quasarctl apply of every object (%d files, at most 1,000 objects each; s) | %.1f | | | | | |"
      % (int(sys.argv[7]), ta - t0))
print("| quasard: from the first apply to `policy status` showing %d policies, %d pods, ready (s) "
      "| %.1f | | | | | |" % (s["policies"], s["pods"], td - t0))
print("| quasard: its last sync (ms, `lastSyncMs`) | %.0f | | | | | |" % s["lastSyncMs"])
print("| quasard: rules / sets / members after the load | %d / %d / %d | | | | | |"
      % (s["rules"], s["sets"], s["setMembers"]))
print("| quasard: syncs / errors / repairs during the load | %d / %d / %d | | | | | |"
      % (s["syncs"], s["syncErrors"], s["repairs"]))
print("| quasard VmRSS before / after (MiB) | %.1f / %.1f | | | | | |" % (rb / 1024, ra / 1024))
' "$t0" "$t_applied" "$t_done" "$rss_before" "$rss_after" "$e2e_pods" "${#files[@]}")
  echo "$e2e"

  # 6: ADDs with all of that in place, beside ptp + host-local, from tests/bench_cni (pods mode)
  # in the node namespace. quasar's pod is ns0/bench (app=app0: ns0's 10 policies select it;
  # its object has no podIPs yet, as at a real ADD), or free/bench (no policy selects it).
  cat >"$dir/bench-pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: bench, namespace: ns0, labels: {app: app0}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bench, namespace: free}
spec: {containers: [{name: c, image: x}]}
YAML
  ctl apply -f "$dir/bench-pods.yaml" >/dev/null
  echo '{"cniVersion":"1.1.0","name":"quasar","type":"quasar","socket":"'"$dir"'/cni.sock"}' \
    >"$dir/quasar.json"
  echo '{"cniVersion":"1.0.0","name":"refnet","type":"ptp","mtu":1480,"ipam":{"type":"host-local","subnet":"10.245.0.0/16","dataDir":"'"$dir"'/host-local"}}' \
    >"$dir/ref.json"
  echo "creating $((3 * (add_cycles + 5))) pod namespaces (outside the timed part)..." >&2
  for k in 0 1 2; do
    for i in $(seq 0 4); do ip netns add "$tag-pod$k-w$i"; done
    for i in $(seq 0 $((add_cycles - 1))); do ip netns add "$tag-pod$k-c$i"; done
  done
  echo "running $add_cycles interleaved ADD/DEL cycles..." >&2
  add_failed=0
  adds=$(ip netns exec "$tag-node" "$bin/bench_cni" pods "$add_cycles" "/$tag-pod" \
    "pod:quasar, pod selected by 10 of the 1,000 policies|$bin/quasar|$dir/quasar.json||K8S_POD_NAMESPACE=ns0;K8S_POD_NAME=bench" \
    "pod:quasar, pod no policy selects|$bin/quasar|$dir/quasar.json||K8S_POD_NAMESPACE=free;K8S_POD_NAME=bench" \
    "pod:ptp + host-local|/usr/lib/cni/ptp|$dir/ref.json||" \
    "ratio:quasar selected / ptp + host-local (goal: ADD median <= 0.25x)|0|2" \
    "ratio:quasar unselected / ptp + host-local|1|2") || add_failed=$?
  [ "$add_failed" -le 1 ] || exit "$add_failed"
  echo "$adds"
  after_adds=$(ctl -o json policy status)
  adds+=$'\n\n'$(python3 -c '
import json, sys; a = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])
print("The policy agent during the ADD/DEL cycles (`policy status` before and after): full "
      "syncs (compile + apply) %d, the last one %.0f ms; sync errors %d; repairs that changed "
      "something %d."
      % (b["syncs"] - a["syncs"], b["lastSyncMs"], b["syncErrors"] - a["syncErrors"],
         b["repairs"] - a["repairs"]))' "$status" "$after_adds")
  kill "$quasard_pid"
  wait "$quasard_pid" 2>/dev/null || true
  quasard_pid=
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
quasar_write_section "$quasar_root/docs/benchmarks.md" bench-policy <<MD
## NetworkPolicy: 1,000 policies over 10,000 pods, against the kernel tools' floor

Command: \`scripts/bench-policy.sh $rounds\` (as root; QUASAR_POLICY_EVENTS=$events,
QUASAR_POLICY_CHANGES=$changes, QUASAR_E2E_PODS=$e2e_pods), on $(date -u +%Y-%m-%d), quasar at
$(git -C "$quasar_root" rev-parse --short HEAD).
Machine: $(nproc) cores, $cpu, kernel $(uname -r), Debian $(cat /etc/debian_version),
$(iptables -V), $(ipset version | head -1). The CPU is shared with other work on this machine:
figures are noisy; compare the ratios, which come from one run.

The model is the compiler's scale shape (netpolicy/compiler/test_model.h, benchShape): 100
namespaces (label team=t0..t9), pods with label app=app0..app49 and a named port http, 1,000
policies each selecting one app and allowing TCP 80, 443 and http from a team's namespaces and
from another app's pods. The driver (tests/bench_policy.cc) runs what quasard's policy agent
runs: compile() with the pod-set definitions and Membership::fromCompile(), then
Applier::apply() through LinuxPolicyKernel (libipset; \`iptables-restore --noflush -w\`), IPv4. Every measurement runs in a fresh network namespace of
its own (unshare), removed afterwards. The floor is the same final state loaded by the kernel
tools from files: \`ipset restore -f\` of renderIpsets() then \`iptables-restore --noflush
--wait=60 FILE\` of renderIptables() with the two hooks, in a fresh namespace; its rule, set and member counts
are checked equal to ours. The full syncs are interleaved, ours then the floor, the order
alternating each round ($rounds rounds at each size: with fewer than 100 samples the p99 is the
maximum). Pod events at 10,000 pods go through Membership::applyPodChange +
Applier::changeMembers, as the agent does: the time from the event to the return of the ipset
batch that puts it in the kernel (an added pod in a namespace with policies, a pod relabelled
out of (or back into) the app its namespace's policies select, the added pod deleted); the sets'
members are checked against the patched ruleset afterwards. A policy change (one added, one
modified: its first port, the added one deleted) is a full compile and an apply of the diff.

$table
$e2e

The quasard rows: a real quasard (SQLite store) in a node namespace, \`quasarctl apply -f\` of
100 Namespaces, $policies NetworkPolicies and $e2e_pods Pods with \`status.podIPs\` (policies
first), the time until \`quasarctl -o json policy status\` shows them all applied (polled every
0.1 s), and quasard's VmRSS (/proc/<pid>/status) before the load and after it.

### ADD with the 1,000 policies and $(python3 -c 'import sys; print(f"{int(sys.argv[1]):,}")' "$e2e_pods") pods in place

The same quasard, right after the load: $add_cycles ADD/DEL cycles of each kind of pod,
interleaved (tests/bench_cni.cc, pods mode; the order rotates each cycle), in the node
namespace, each ADD on a fresh pod namespace made beforehand. quasar's ADD returns only once the
pod's addresses are in its policies' sets (no enforcement gap: the policy agent's podStarting).
Goal (issue 14): quasar's ADD median at most 1/4 of ptp + host-local's in the same run.

$adds

### Findings (2026-12-02 to 2026-12-04, 2 cores shared with other work)

- Pod events meet their goal by far: a pod's set delta is one libipset batch, no iptables call
  (0.1-0.3 ms median, p99 under 0.6 ms in the last runs; 3.5-7 ms in an earlier, busier one).
- The rule count is the same at 1,000 and 10,000 pods (6,313 rules + 2 hooks, 412 sets); only
  the members grow (5,001 -> 50,001). Since the namespace dispatch (2026-12-03) each namespace
  with policies has a chain and a set of its isolated pods per direction, and each direction a
  set of all isolated pods (the fast path): +301 rules, +101 sets, and every isolated pod's
  address twice more (6,012 rules, 311 sets, 30,001 members before).
- A full sync is within 1.25x of the floor and under 1 s at both sizes since the applier stopped
  reading the whole filter table back after each write (85cb769): before, the read-back
  \`iptables-save\` (0.4-0.5 s at 6,000 rules) made it 1.4-2.0x and 1.6-2.1 s. Most of what is
  left is the floor's own \`ipset restore\` and \`iptables-restore\` (nft backend); the
  namespace dispatch's extra members made both, and the sync, about 0.15 s longer at 10,000 pods.
- A policy change at 10,000 pods: 50-250 ms median (compile 30-55 ms; the restore of the changed
  chains and, for an added or deleted policy, the rewritten fixed chains); 0.7-0.9 s with the
  read-back.
- quasard loads 1,000 policies and 10,000 pods through quasarctl in 6-10 s (the apply itself is
  most of it) and enforces them 1.5-2.5 s after the last apply; its RSS grows from 26 to 80-93
  MiB.
- ADD with 1,000 policies and 10,000 pods in place (2026-12-04, ce98443): 0.227x of ptp +
  host-local for a pod 10 policies select, 0.178x for one none selects: the goal is met in this
  run (0.205-0.233x in four trial runs after the change, some with timing logs on). quasard's early answer now goes before the
  policy sync, which runs on the agent's worker while the address commits (0.37 ms of sync and
  0.85 ms of commit were in series before; in a trial the sync was already applied when the ADD
  awaited it in 405 of 412 ADDs). quasar's own ADD time did not move measurably with it (the same
  day before the change: 0.214x). What moved the ratio from 2026-12-03's 0.279x (e4d2a86) is the
  machine: on this day's (kernel 6.18.44-fc-v1252, was v1098) an exec costs 2.5x what it did
  (bench-cni's empty static program 1.64 ms, 0.65 ms on 2026-12-02), and ptp + host-local execs
  more programs per ADD than quasar. So the margin depends on the machine's exec cost: on the
  earlier one the goal was missed by 0.03x. Profiled with perf (2026-12-03), quasard's sync for
  the pod went from about 700 us to 265-295 us: the pod-address publisher's writes coalesced for
  50 ms, set members kept in ordered sets (no sorting of vectors), unions indexed by the set they
  unite, the libipset session kept open. What is left is mostly the kernel's: one netlink round
  trip per changed set (150-200 us for the pod's sets). The p99 is the agent's periodic work: an
  ADD that arrives during a repair pass (\`ipset list -t\` of 412 sets every 500 ms, about 7 ms)
  or a full sync waits for it.
MD
echo "wrote docs/benchmarks.md" >&2
[ "$add_failed" = 0 ] || { echo "some ADD/DEL invocations failed (the failed column)" >&2; exit 1; }
