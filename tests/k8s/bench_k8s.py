#!/usr/bin/python3
"""The Kubernetes benchmark's driver (scripts/bench-k8s.sh runs it as root inside a network
namespace of its own; docs/benchmarks.md says what each number measures).

It makes a PKI, starts the Kubernetes API server stand-in (tests/k8s/apiserver_standin.py),
applies conf/k8s/quasar.yaml with kubectl (the CRDs), loads a cluster (tests/k8s/bench_objects.py)
through POST /standin/bulk, then starts the consumer (quasard, or `--consumer fake`:
tests/k8s/bench_fake_consumer.py) and measures:
 1. from the consumer's start to /readyz 200, and the sync time it logs itself
    (`event=object-view-synced objects=N ms=T`);
 2. its VmRSS / VmHWM (/proc/PID/status) once ready, and again at the end;
 3. per node label change: t0 just before a merge PATCH goes out on an open HTTPS connection,
    t1 when the consumer's `event=view-event kind=Node ... name=<node> rv=<rv of the PATCH>`
    line is read from its stderr pipe; also when the same event reaches a plain watch in this
    driver (the stand-in's own floor); then a few `kubectl label node` runs, timed from the
    spawn of kubectl.
Prints a Markdown table on stdout (progress on stderr) and writes the raw numbers as JSON.
Every process it starts dies with it (PR_SET_PDEATHSIG) and is stopped on exit; any missing
tool, failed step, or event that does not arrive ends it with an error.
"""

import argparse
import ctypes
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import socket
import ssl
import subprocess
import sys
import time

import bench_objects
import bench_streams
from bench_streams import Failure

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LABEL = "bench.quasar.io/change"


def progress(msg):
    sys.stderr.write("bench-k8s: %s\n" % msg)
    sys.stderr.flush()


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def pct(values, p):
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


class Bench:
    def __init__(self, args):
        self.a, self.dir = args, args.dir
        self.procs = []
        self.results = {"objects": {}, "changes": []}

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, preexec_fn=die_with_parent, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def tls(self):
        ctx = ssl.create_default_context(cafile=self.path("pki", "ca.crt"))
        ctx.load_cert_chain(self.path("pki", "client.crt"), self.path("pki", "client.key"))
        return ctx

    def conn(self, timeout=60):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls(),
                                           timeout=timeout)

    def call(self, method, path, body=None, ctype="application/json", conn=None):
        c = conn or self.conn()
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        c.request(method, path, body=data,
                  headers={"Content-Type": ctype, "Accept": "application/json"})
        r = c.getresponse()
        raw = r.read()
        if conn is None:
            c.close()
        if r.status not in (200, 201):
            raise Failure("%s %s: %d %s" % (method, path, r.status, raw[:500]))
        return json.loads(raw)

    def kubectl(self, *args):
        run = subprocess.run([self.a.kubectl, "--kubeconfig", self.path("kubeconfig"),
                              "--cache-dir", self.path("kcache"), *args],
                             env=dict(os.environ, HOME=self.dir), capture_output=True, text=True,
                             timeout=120)
        if run.returncode != 0:
            raise Failure("kubectl %s: %s" % (" ".join(args), run.stderr.strip()))
        return run.stdout

    # --- set-up ----------------------------------------------------------------------------

    def start_standin(self):
        subprocess.run([os.path.join(HERE, "make-certs.sh"), self.path("pki")], check=True)
        pki = lambda n: self.path("pki", n)
        p = self.standin = self.spawn(
            [sys.executable, "-B", os.path.join(HERE, "apiserver_standin.py"), "--cert",
             pki("server.crt"), "--key", pki("server.key"), "--client-ca", pki("ca.crt"),
             "--port", "0"],
            stdout=subprocess.PIPE, stderr=open(self.path("standin.log"), "w"), text=True)
        line = p.stdout.readline()
        if not line.startswith("listening https://127.0.0.1:"):
            raise Failure("the stand-in did not start (%r), see %s" %
                          (line, self.path("standin.log")))
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.server = "https://127.0.0.1:%d" % self.port
        with open(self.path("kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: standin\nclusters:\n"
                    "- name: standin\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
                    "users:\n- name: bench\n  user:\n    client-certificate: %s\n"
                    "    client-key: %s\ncontexts:\n- name: standin\n  context:\n"
                    "    cluster: standin\n    user: bench\n"
                    % (self.server, pki("ca.crt"), pki("client.crt"), pki("client.key")))

    def load(self):
        a = self.a
        if a.manifest:
            self.kubectl("apply", "--validate=false", "-f", a.manifest)
        progress("generating %d pods, %d nodes, %d NetworkPolicies, %d namespaces" %
                 (a.pods, a.nodes, a.policies, a.namespaces))
        body = json.dumps({"items": bench_objects.cluster(a.pods, a.nodes, a.policies,
                                                          a.namespaces)}).encode()
        t0 = time.monotonic()
        out = self.call("POST", "/standin/bulk", body)
        self.results["bulk_load_s"] = time.monotonic() - t0
        self.results["bulk_bytes"] = len(body)
        stats = self.call("GET", "/standin/stats")["objects"]
        self.results["objects"] = {k: v for k, v in stats.items() if v}
        progress("loaded %d objects (%.1f MB) in %.1f s; the stand-in holds %s" % (
            out["created"], len(body) / 1e6, self.results["bulk_load_s"], self.results["objects"]))

    def free_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start_consumer(self):
        a = self.a
        self.metrics_port = self.free_port()
        metrics = "127.0.0.1:%d" % self.metrics_port
        if a.consumer == "fake":
            argv = [sys.executable, "-B", os.path.join(HERE, "bench_fake_consumer.py"), "--server",
                    self.server, "--ca", self.path("pki", "ca.crt"), "--cert",
                    self.path("pki", "client.crt"), "--key", self.path("pki", "client.key"),
                    "--metrics", metrics]
        else:
            self.socket = self.path("quasard.sock")
            me = 1
            with open(self.path("quasard.yaml"), "w") as f:
                f.write("nodeName: %s\nstateDir: %s\nsocket: %s\ncniSocket: %s\n"
                        "podCIDRs: [%s]\nnodeIP: %s\nuplink: %s\nroutingMode: host-gw\n"
                        "natOutgoing: false\nkubernetes: {kubeconfig: %s}\nlogLevel: debug\n" % (
                            bench_objects.node_name(me), self.path("state"), self.socket,
                            self.path("cni.sock"), bench_objects.node_pod_cidr(me),
                            bench_objects.node_ip(me), a.uplink, self.path("kubeconfig")))
                if a.ready == "readyz":
                    f.write("metricsAddress: %s\n" % metrics)
            argv = [a.quasard, "--config", self.path("quasard.yaml")]
        self.standin_cpu0 = self.cpu_s(self.standin)
        self.t_start = time.monotonic()
        self.consumer = self.spawn(argv, stdout=open(self.path("consumer.out"), "w"),
                                   stderr=subprocess.PIPE)
        self.events = bench_streams.ConsumerLog(self.consumer.stderr, self.path("consumer.log"))

    def wait_ready(self):
        deadline = self.t_start + self.a.sync_timeout
        while time.monotonic() < deadline:
            if self.consumer.poll() is not None:
                raise Failure("the consumer exited (%d) before it was ready; see %s" %
                              (self.consumer.returncode, self.path("consumer.log")))
            if self.a.ready == "log":
                with self.events.cond:
                    self.events.cond.wait_for(lambda: self.events.synced or self.events.ended, 0.1)
                    if self.events.synced:
                        return self.events.synced[0]
                continue
            c = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=2)
            try:
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return time.monotonic()
            except OSError:
                pass
            finally:
                c.close()
            time.sleep(0.01)
        raise Failure("not ready (%s) within %d s of the start" %
                      (self.a.ready, self.a.sync_timeout))

    def memory(self):
        with open("/proc/%d/status" % self.consumer.pid) as f:
            fields = dict(line.split(":", 1) for line in f)
        return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}  # MiB

    @staticmethod
    def cpu_s(proc):
        """User + system CPU seconds the process has used so far."""
        with open("/proc/%d/stat" % proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # --- measurements ----------------------------------------------------------------------

    def measure_sync(self):
        t_ready = self.wait_ready()
        r = self.results
        r["ready_s"], r["ready"] = t_ready - self.t_start, self.a.ready
        r["mem_ready"] = self.memory()
        r["cpu_ready_s"] = self.cpu_s(self.consumer)
        r["standin_cpu_ready_s"] = self.cpu_s(self.standin) - self.standin_cpu0
        with self.events.cond:
            synced = self.events.synced
        if synced is None:
            raise Failure("ready, but no `event=object-view-synced` line in %s" %
                          self.path("consumer.log"))
        r["synced_logged_ms"], r["synced_objects"] = synced[2], synced[1]
        r["synced_line_s"] = synced[0] - self.t_start
        progress("ready %.2f s after the start; view synced in %.0f ms (logged), %d objects; "
                 "VmRSS %.1f MiB" % (r["ready_s"], synced[2], synced[1], r["mem_ready"]["VmRSS"]))

    def reference_watch(self):
        """A plain watch on nodes in this process, from now on."""
        rv = self.call("GET", "/api/v1/nodes?limit=1")["metadata"]["resourceVersion"]
        c = self.conn(timeout=None)
        c.request("GET", "/api/v1/nodes?watch=true&resourceVersion=" + rv)
        return bench_streams.WatchTimes(c)

    def node_event(self, name, rv, after, what):
        return self.events.wait(
            lambda ev: ev[0] >= after and ev[1] == "Node" and ev[4] == name and
            (rv is None or ev[5] == rv), self.a.event_timeout, what)[0]

    def measure_changes(self):
        # Nodes from 2 on: quasard annotates its own Node (node-0001), and the kubectl runs
        # match the first event of their node.
        a, rng = self.a, random.Random(12)
        ref = self.reference_watch()
        patch_conn = self.conn()
        self.call("GET", "/api/v1/nodes?limit=1", conn=patch_conn)  # TLS handshake, untimed
        for i in range(a.changes):
            name = bench_objects.node_name(rng.randint(2, a.nodes))
            body = json.dumps({"metadata": {"labels": {LABEL: "direct-%d" % i}}}).encode()
            t0 = time.monotonic()
            out = self.call("PATCH", "/api/v1/nodes/" + name, body,
                            "application/merge-patch+json", conn=patch_conn)
            t_resp = time.monotonic()
            rv = out["metadata"]["resourceVersion"]
            t1 = self.node_event(name, rv, t0, "view event for node %s rv %s" % (name, rv))
            t_ref = ref.wait(name, rv, a.event_timeout)
            if t_ref is None:
                raise Failure("the reference watch missed %s rv %s" % (name, rv))
            self.results["changes"].append({
                "node": name, "rv": rv, "patch_ms": (t_resp - t0) * 1e3,
                "view_ms": (t1 - t0) * 1e3, "ref_ms": (t_ref - t0) * 1e3})
            time.sleep(rng.uniform(0.03, 0.08))  # apart, and not in step with the bookmarks
        ref.close()
        patch_conn.close()
        self.last_change = (name, "direct-%d" % (a.changes - 1))

        self.kubectl("get", "node", bench_objects.node_name(1), "-o", "name")  # discovery cache
        self.results["kubectl"] = []
        for i in range(a.kubectl_changes):
            name = bench_objects.node_name(rng.randint(2, a.nodes))
            t0 = time.monotonic()
            self.kubectl("label", "node", name, "--overwrite", "%s=kubectl-%d" % (LABEL, i))
            t_exit = time.monotonic()
            t1 = self.node_event(name, None, t0, "view event for kubectl's label on " + name)
            self.results["kubectl"].append({"node": name, "view_ms": (t1 - t0) * 1e3,
                                            "kubectl_ms": (t_exit - t0) * 1e3})
            self.last_change = (name, "kubectl-%d" % i)
            time.sleep(rng.uniform(0.03, 0.08))
        self.results["mem_end"] = self.memory()

    def check_quasarctl(self):
        """quasarctl nodes must show the last label set (the view's content, not just its log)."""
        name, value = self.last_change
        out = subprocess.run([self.a.quasarctl, "--socket", self.socket, "nodes"],
                             capture_output=True, text=True, timeout=30)
        row = [l for l in out.stdout.splitlines() if name in l]
        if out.returncode != 0 or not row or value not in out.stdout:
            raise Failure("`quasarctl nodes` does not show %s=%s on %s (exit %d): %s %s" % (
                LABEL, value, name, out.returncode, row[:1] or out.stdout[:500], out.stderr[:500]))
        self.results["quasarctl_checked"] = "%s %s=%s" % (name, LABEL, value)


READY = {"readyz": "/readyz 200", "log": "its `object-view-synced` line"}


def mem(m):
    mb = lambda mib: mib * 1048576 / 1e6
    return "%.1f MiB = %.1f MB (%.1f MiB)" % (m["VmRSS"], mb(m["VmRSS"]), m["VmHWM"])


def table(r, consumer):
    ch, kc = r["changes"], r.get("kubectl", [])
    col = lambda rows, k: [x[k] for x in rows]
    o = dict(r["objects"])
    shown = [("namespaces", "namespaces"), ("nodes", "nodes"), ("pods", "pods"),
             ("networkpolicies.networking.k8s.io", "NetworkPolicies"),
             ("customresourcedefinitions.apiextensions.k8s.io", "CRDs")]
    objects = ", ".join("%d %s" % (o.pop(k, 0), label) for k, label in shown)
    if o:
        objects += ", %d other (the install manifest's)" % sum(o.values())
    lines = ["| measure | value | goal |", "|---|---|---|",
             "| objects in the stand-in | %s | |" % objects,
             "| (1) %s start to %s | %.2f s | |" % (consumer, READY[r["ready"]], r["ready_s"]),
             "| (1) initial sync as logged (`object-view-synced`: %d objects) | %.0f ms | |" % (
                 r["synced_objects"], r["synced_logged_ms"]),
             "| (1) CPU time until ready: %s, the stand-in | %.2f s, %.2f s | |" % (
                 consumer, r["cpu_ready_s"], r["standin_cpu_ready_s"]),
             "| (2) VmRSS once ready (VmHWM) | %s | < 150 MB |" % mem(r["mem_ready"]),
             "| (2) VmRSS after the label changes (VmHWM) | %s | |" % mem(r["mem_end"])]
    row = "| %s | median %.1f ms, p99 %.1f ms | %s |"
    med = statistics.median
    lines += [row % ("(3) node label PATCH sent to the event in %s, %d changes" %
                     (consumer, len(ch)),
                     med(col(ch, "view_ms")), pct(col(ch, "view_ms"), 99), "< 100 ms median"),
              row % ("PATCH sent to its response (the stand-in's share)",
                     med(col(ch, "patch_ms")), pct(col(ch, "patch_ms"), 99), ""),
              row % ("PATCH sent to the event on a plain Python watch in the driver (floor)",
                     med(col(ch, "ref_ms")), pct(col(ch, "ref_ms"), 99), "")]
    if kc:
        lines += [row % ("(3) `kubectl label node` spawned to the event in %s, %d runs" % (
                             consumer, len(kc)),
                         med(col(kc, "view_ms")), pct(col(kc, "view_ms"), 99), ""),
                  row % ("`kubectl label node` spawned to its exit", med(col(kc, "kubectl_ms")),
                         pct(col(kc, "kubectl_ms"), 99), "")]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="working directory (certs, logs, state)")
    ap.add_argument("--consumer", choices=["quasard", "fake"], default="quasard")
    ap.add_argument("--quasard", default=os.path.join(ROOT, "build/bin/quasard"))
    ap.add_argument("--quasarctl", default=os.path.join(ROOT, "build/bin/quasarctl"))
    ap.add_argument("--kubectl", default=shutil.which("kubectl") or "/usr/bin/kubectl")
    ap.add_argument("--manifest", default=os.path.join(ROOT, "conf/k8s/quasar.yaml"))
    ap.add_argument("--uplink", default="up0")
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=20)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--kubectl-changes", type=int, default=10)
    ap.add_argument("--sync-timeout", type=int, default=300)
    ap.add_argument("--event-timeout", type=float, default=10)
    ap.add_argument("--ready", choices=["readyz", "log"], default="readyz",
                    help="ready = /readyz 200 on metricsAddress, or the object-view-synced line")
    ap.add_argument("--json", help="write the raw numbers here")
    a = ap.parse_args()
    need = [a.kubectl, os.path.join(HERE, "make-certs.sh")]
    if a.consumer == "quasard":
        need += [a.quasard, a.quasarctl]
    missing = [p for p in need if not os.access(p, os.X_OK)] + \
        [t for t in ("openssl",) if not shutil.which(t)]
    if missing:
        sys.exit("bench-k8s: missing: %s" % ", ".join(missing))
    sys.setswitchinterval(0.0005)  # the event reader thread must not wait for the GIL long
    b = Bench(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        b.start_standin()
        b.load()
        progress("starting %s" % a.consumer)
        b.start_consumer()
        b.measure_sync()
        progress("%d label changes by PATCH, %d by kubectl" % (a.changes, a.kubectl_changes))
        b.measure_changes()
        if a.consumer == "quasard":
            b.check_quasarctl()
    except Failure as e:
        sys.exit("bench-k8s: FAILED: %s (logs in %s)" % (e, a.dir))
    finally:
        b.stop_all()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(b.results, f, indent=1)
    print(table(b.results, a.consumer))


if __name__ == "__main__":
    main()
