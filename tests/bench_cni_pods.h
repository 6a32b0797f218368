// bench_cni's "pods" mode: several kinds of pod (plugin, config, CNI_ARGS, node namespace) in one
// run, their ADD/DEL cycles interleaved, and ratios between chosen pairs. Used by
// scripts/bench-floating.sh: a floating-IP pod beside a pod-CIDR pod and ptp + host-local, on
// two nodes (one per datastore) driven from one process.
//
// usage: bench_cni pods CYCLES POD_NS_PREFIX POD... [RATIO...]
//   POD:   pod:LABEL|BINARY|CONF|NODE_NETNS|CNI_ARGS   NODE_NETNS: a path such as /run/netns/x
//          (the plugin runs there; empty: the driver's own namespace); CNI_ARGS may be empty.
//   RATIO: ratio:LABEL|I|J   a row comparing pod I with pod J (0-based, in the order given).
// The K-th pod's ADDs use the network namespaces POD_NS_PREFIX<K>-w0..4 (warm-up) and
// POD_NS_PREFIX<K>-c<i> (cycle i), under /run/netns, made beforehand.
// Prints markdown tables on stdout; returns 0 when every invocation succeeded, 1 when one failed
// (the first failures' output goes to stderr), 2 on a usage error.
#pragma once

namespace quasar::bench {

int runPods(int argc, char** argv);

}  // namespace quasar::bench
