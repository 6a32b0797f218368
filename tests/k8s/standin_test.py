#!/usr/bin/python3
"""Tests of the Kubernetes API server stand-in (tests/k8s/apiserver_standin.py) with the real
kubectl and a raw HTTPS client. Label netns: run through tests/in-netns.sh, so the stand-in
listens on the loopback of a namespace of its own. Needs /usr/bin/kubectl and openssl.
"""

import ctypes
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
TOKEN = "quasar-standin-test-token"


def _die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Standin:
    """One stand-in process with its own PKI, token file and kubeconfigs in a temp dir."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="quasar-standin-")
        subprocess.run([os.path.join(HERE, "make-certs.sh"), self.dir], check=True)
        with open(os.path.join(self.dir, "tokens"), "w") as f:
            f.write(TOKEN + ",quasar-test,1\n")
        self.log = open(os.path.join(self.dir, "standin.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "apiserver_standin.py"),
             "--cert", self.path("server.crt"), "--key", self.path("server.key"),
             "--client-ca", self.path("ca.crt"), "--token-file", self.path("tokens"),
             "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline()
        if not line.startswith("listening https://127.0.0.1:"):
            self.stop()
            raise RuntimeError("stand-in did not start: %r, log %s" % (line, self.read_log()))
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.server = "https://127.0.0.1:%d" % self.port
        self.cert_kubeconfig = self.kubeconfig("cert", {
            "client-certificate": self.path("client.crt"), "client-key": self.path("client.key")})
        self.token_kubeconfig = self.kubeconfig("token", {"token": TOKEN})

    def path(self, name):
        return os.path.join(self.dir, name)

    def read_log(self):
        with open(self.path("standin.log")) as f:
            return f.read()

    def kubeconfig(self, name, user):
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "standin",
               "clusters": [{"name": "standin", "cluster": {
                   "server": self.server, "certificate-authority": self.path("ca.crt")}}],
               "users": [{"name": "u", "user": user}],
               "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "u"}}]}
        path = self.path("kubeconfig-" + name)
        with open(path, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        return path

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if not os.environ.get("QUASAR_STANDIN_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def context(self, cert=True):
        ctx = ssl.create_default_context(cafile=self.path("ca.crt"))
        if cert:
            ctx.load_cert_chain(self.path("client.crt"), self.path("client.key"))
        return ctx

    def connect(self, cert=False):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(cert),
                                           timeout=30)

    def api(self, method, path, body=None, ctype="application/json", token=TOKEN, cert=False):
        """One request; returns (HTTP status, decoded JSON body or text)."""
        conn = self.connect(cert)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw.decode()
        finally:
            conn.close()

    def raw(self, method, path):
        """GET with a token; returns the body's bytes (200 only)."""
        conn = self.connect()
        try:
            conn.request(method, path, headers={"Authorization": "Bearer " + TOKEN})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise AssertionError("%s %s -> %d %s" % (method, path, resp.status, body[:500]))
            return body
        finally:
            conn.close()

    def ok(self, method, path, body=None, ctype="application/json", want=(200, 201)):
        code, out = self.api(method, path, body, ctype)
        if code not in want:
            raise AssertionError("%s %s -> %d %s" % (method, path, code, out))
        return out

    def kubectl(self, *args, kubeconfig=None, check=True, stdin=None):
        env = dict(os.environ, HOME=self.dir)
        run = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig or self.cert_kubeconfig,
                              "--cache-dir", self.path("kcache"), *args], env=env, input=stdin,
                             capture_output=True, text=True, timeout=120)
        if check and run.returncode != 0:
            raise AssertionError("kubectl %s failed (%d): %s" % (" ".join(args), run.returncode,
                                                                  run.stderr))
        return run

    def watch(self, path, **params):
        return Watch(self, path, dict(params, watch="true"))

    def wait_for(self, what, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = pred()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("timed out waiting for " + what)


class Watch:
    """A watch stream read by a thread; events, a clean end or an error land in a queue."""

    def __init__(self, standin, path, params):
        self.q = queue.Queue()
        self.conn = standin.connect()
        self.conn.request("GET", path + "?" + urllib.parse.urlencode(params),
                          headers={"Authorization": "Bearer " + TOKEN})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        # read1, not readline: readline (through peek) takes a broken chunk for a clean end.
        buf = b""
        try:
            while True:
                data = self.resp.read1(65536)
                if not data:
                    self.q.put(("end", None))
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    self.q.put(("event", json.loads(line)))
        except Exception as e:  # the reader reports every way the stream can break
            self.q.put(("error", e))

    def next(self, timeout=10):
        kind, value = self.q.get(timeout=timeout)
        if kind != "event":
            raise AssertionError("watch ended (%s %r) while an event was expected" % (kind, value))
        return value

    def next_not_bookmark(self, timeout=10):
        while True:
            ev = self.next(timeout)
            if ev["type"] != "BOOKMARK":
                return ev

    def outcome(self, timeout=10):
        """Skips events and returns how the stream ended: ("end"|"error", detail)."""
        deadline = time.monotonic() + timeout
        while True:
            kind, value = self.q.get(timeout=max(deadline - time.monotonic(), 0.01))
            if kind != "event":
                return kind, value

    def close(self):
        # Shut the socket down first: close() alone waits for the reader thread's read.
        try:
            socket.socket.shutdown(self.conn.sock, socket.SHUT_RDWR)
        except (OSError, AttributeError, TypeError):
            pass
        self.conn.close()


def pod(ns, name, labels=None, node="node-1", annotations=None):
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def setUpModule():
    if not os.access(KUBECTL, os.X_OK):
        raise RuntimeError("kubectl (v1.32) not found at %s: the stand-in tests need it" % KUBECTL)


class StandinApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Standin("--bookmark-interval", "0.5")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def fresh_namespace(self):
        name = "t-%s" % self.id().rsplit(".", 1)[1].replace("_", "-").lower()[:50]
        self.s.ok("POST", "/api/v1/namespaces", namespace(name))
        return name

    # --- auth and discovery ----------------------------------------------------------------

    def test_requests_without_valid_credentials_get_401_status(self):
        for token in (None, "wrong-token"):
            code, body = self.s.api("GET", "/api/v1/namespaces", token=token)
            self.assertEqual(code, 401)
            self.assertEqual(body["kind"], "Status")
            self.assertEqual(body["reason"], "Unauthorized")
            self.assertEqual(body["code"], 401)
        code, body = self.s.api("GET", "/api/v1/namespaces/default", token=None, cert=True)
        self.assertEqual((code, body["metadata"]["name"]), (200, "default"))
        code, body = self.s.api("GET", "/api/v1/namespaces/default")
        self.assertEqual((code, body["metadata"]["name"]), (200, "default"))

    def test_token_file_is_read_again_when_it_changes(self):
        tokens = self.s.path("tokens")
        with open(tokens) as f:
            before = f.read()
        try:
            with open(tokens + ".new", "w") as f:
                f.write("rotated-token,quasar-test,1\n")
            os.rename(tokens + ".new", tokens)
            self.assertEqual(self.s.api("GET", "/api/v1/namespaces/default")[0], 401)
            code, _ = self.s.api("GET", "/api/v1/namespaces/default", token="rotated-token")
            self.assertEqual(code, 200)
        finally:
            with open(tokens + ".new", "w") as f:
                f.write(before)
            os.rename(tokens + ".new", tokens)
        self.assertEqual(self.s.api("GET", "/api/v1/namespaces/default")[0], 200)

    def test_discovery_serves_the_kinds(self):
        api = self.s.ok("GET", "/api")
        self.assertEqual((api["kind"], api["versions"]), ("APIVersions", ["v1"]))
        core = {r["name"]: r for r in self.s.ok("GET", "/api/v1")["resources"]}
        self.assertTrue(core["pods"]["namespaced"])
        self.assertFalse(core["nodes"]["namespaced"])
        self.assertIn("watch", core["pods"]["verbs"])
        self.assertIn("pods/status", core)
        groups = {g["name"] for g in self.s.ok("GET", "/apis")["groups"]}
        self.assertLessEqual({"networking.k8s.io", "apiextensions.k8s.io"}, groups)
        net = self.s.ok("GET", "/apis/networking.k8s.io/v1")
        self.assertEqual([r["kind"] for r in net["resources"]], ["NetworkPolicy"])
        self.assertEqual(self.s.ok("GET", "/version")["minor"], "32")
        self.assertEqual(self.s.api("GET", "/healthz", token=None), (200, "ok"))
        code, body = self.s.api("GET", "/apis/nope.io/v1/things")
        self.assertEqual((code, body["reason"]), (404, "NotFound"))

    # --- kubectl ---------------------------------------------------------------------------

    def test_kubectl_creates_gets_labels_annotates_and_deletes(self):
        manifest = [
            namespace("kc"),
            pod("kc", "web-1", {"app": "web"}, "node-a", {"team": "blue"}),
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "deny-all", "namespace": "kc"},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
             "spec": {"podCIDR": "10.244.1.0/24"}},
        ]
        path = self.s.path("manifest.json")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": manifest}, f)
        out = self.s.kubectl("create", "--validate=false", "-f", path).stdout
        for line in ("namespace/kc created", "pod/web-1 created",
                     "networkpolicy.networking.k8s.io/deny-all created", "node/node-a created"):
            self.assertIn(line, out)
        got = json.loads(self.s.kubectl("get", "pod", "-n", "kc", "web-1", "-o", "json").stdout)
        self.assertEqual(got["metadata"]["labels"], {"app": "web"})
        self.assertEqual(got["metadata"]["annotations"], {"team": "blue"})
        self.assertEqual(got["spec"]["nodeName"], "node-a")
        self.assertEqual(got["status"], {"phase": "Pending"})
        netpol = json.loads(self.s.kubectl("get", "networkpolicies", "-n", "kc", "-o", "json").stdout)
        self.assertEqual([p["metadata"]["name"] for p in netpol["items"]], ["deny-all"])

        self.s.kubectl("label", "node", "node-a", "topology.kubernetes.io/zone=z1")
        node = self.s.ok("GET", "/api/v1/nodes/node-a")
        self.assertEqual(node["metadata"]["labels"], {"topology.kubernetes.io/zone": "z1"})
        self.assertEqual(node["spec"]["podCIDR"], "10.244.1.0/24")
        self.s.kubectl("annotate", "pod", "-n", "kc", "web-1", "quasar.io/owner=me")
        got = self.s.ok("GET", "/api/v1/namespaces/kc/pods/web-1")
        self.assertEqual(got["metadata"]["annotations"], {"team": "blue", "quasar.io/owner": "me"})
        self.s.kubectl("label", "pod", "-n", "kc", "web-1", "app-")  # removal via null in patch
        got = self.s.ok("GET", "/api/v1/namespaces/kc/pods/web-1")
        self.assertEqual(got["metadata"].get("labels", {}), {})

        self.s.kubectl("delete", "pod", "-n", "kc", "web-1")
        code, body = self.s.api("GET", "/api/v1/namespaces/kc/pods/web-1")
        self.assertEqual((code, body["reason"]), (404, "NotFound"))
        self.s.kubectl("delete", "node", "node-a")
        run = self.s.kubectl("get", "node", "node-a", check=False)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn('nodes "node-a" not found', run.stderr)

    def test_kubectl_with_a_bearer_token(self):
        out = self.s.kubectl("get", "namespace", "default", "-o", "json",
                             kubeconfig=self.s.token_kubeconfig).stdout
        self.assertEqual(json.loads(out)["metadata"]["labels"],
                         {"kubernetes.io/metadata.name": "default"})

    def test_kubectl_crd_then_custom_resources(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "floatingippools.quasar.io"},
               "spec": {"group": "quasar.io", "scope": "Cluster",
                        "names": {"plural": "floatingippools", "singular": "floatingippool",
                                  "kind": "FloatingIPPool", "shortNames": ["fip"]},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
        nscrd = json.loads(json.dumps(crd))
        nscrd["metadata"]["name"] = "podnetworks.quasar.io"
        nscrd["spec"]["scope"] = "Namespaced"
        nscrd["spec"]["names"] = {"plural": "podnetworks", "kind": "PodNetwork"}
        for c in (crd, nscrd):
            self.s.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(c))
        got = self.s.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                               "floatingippools.quasar.io")
        self.assertIn({"type": "Established", "status": "True"},
                      [{k: c[k] for k in ("type", "status")} for c in got["status"]["conditions"]])
        pool = {"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
                "metadata": {"name": "pool-a"}, "spec": {"cidr": "198.51.100.0/28"}}
        self.s.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(pool))
        ns = self.fresh_namespace()
        podnet = {"apiVersion": "quasar.io/v1", "kind": "PodNetwork",
                  "metadata": {"name": "net-1", "namespace": ns}, "spec": {"vni": 7}}
        self.s.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(podnet))

        out = json.loads(self.s.kubectl("get", "floatingippools", "-o", "json").stdout)
        self.assertEqual([(i["metadata"]["name"], i["spec"]["cidr"]) for i in out["items"]],
                         [("pool-a", "198.51.100.0/28")])
        raw = self.s.ok("GET", "/apis/quasar.io/v1/floatingippools")
        self.assertEqual(raw["kind"], "FloatingIPPoolList")
        self.assertEqual(raw["items"][0]["kind"], "FloatingIPPool")  # custom items keep their kind
        raw = self.s.ok("GET", "/apis/quasar.io/v1/namespaces/%s/podnetworks" % ns)
        self.assertEqual([i["spec"]["vni"] for i in raw["items"]], [7])
        code, _ = self.s.api("GET", "/apis/quasar.io/v1/namespaces/%s/floatingippools" % ns)
        self.assertEqual(code, 404)  # cluster-scoped kinds have no namespaced path

        self.s.kubectl("delete", "crd", "podnetworks.quasar.io")
        code, _ = self.s.api("GET", "/apis/quasar.io/v1/namespaces/%s/podnetworks" % ns)
        self.assertEqual(code, 404)

    def test_kubectl_creates_scales_and_deletes_the_apps_kinds(self):
        ns = self.fresh_namespace()
        w = self.s.watch("/apis/apps/v1/namespaces/%s/deployments" % ns)
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": ns},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                               "containers": [{"name": "c", "image": "nginx"}]}}}}
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "db", "namespace": ns},
               "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                            "containers": [{"name": "c", "image": "postgres"}]}}}}
        out = self.s.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": [deploy, sts]})).stdout
        self.assertIn("deployment.apps/web created", out)
        self.assertIn("statefulset.apps/db created", out)
        created = self.s.ok("GET", "/apis/apps/v1/namespaces/%s/deployments/web" % ns)
        self.assertEqual(w.next_not_bookmark()["type"], "ADDED")
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "web-7d4b9c", "namespace": ns, "ownerReferences": [
                  {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                   "uid": created["metadata"]["uid"], "controller": True}]},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}}}
        self.s.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(rs))

        # Short names; spec.replicas defaulted to 1 as the API server does.
        got = json.loads(self.s.kubectl("get", "deploy,rs,sts", "-n", ns, "-o", "json").stdout)
        self.assertEqual([(i["kind"], i["metadata"]["name"], i["spec"]["replicas"])
                          for i in got["items"]],
                         [("Deployment", "web", 2), ("ReplicaSet", "web-7d4b9c", 2),
                          ("StatefulSet", "db", 1)])
        self.assertEqual(got["items"][1]["metadata"]["ownerReferences"][0]["name"], "web")

        # kubectl scale: a merge patch of the scale subresource, seen as a MODIFIED object.
        out = self.s.kubectl("scale", "deploy/web", "-n", ns, "--replicas=3").stdout
        self.assertIn("deployment.apps/web scaled", out)
        ev = w.next_not_bookmark()
        self.assertEqual((ev["type"], ev["object"]["spec"]["replicas"]), ("MODIFIED", 3))
        self.assertEqual(ev["object"]["metadata"]["uid"], created["metadata"]["uid"])
        self.s.kubectl("scale", "sts", "db", "-n", ns, "--replicas=0")
        self.s.kubectl("scale", "rs/web-7d4b9c", "-n", ns, "--replicas=5")
        # With a precondition kubectl reads the Scale and writes it back (GET, then PUT).
        self.s.kubectl("scale", "deploy/web", "-n", ns, "--current-replicas=3", "--replicas=4")
        run = self.s.kubectl("scale", "deploy/web", "-n", ns, "--current-replicas=3",
                             "--replicas=9", check=False)
        self.assertNotEqual(run.returncode, 0)
        got = json.loads(self.s.kubectl("get", "deploy,rs,sts", "-n", ns, "-o", "json").stdout)
        self.assertEqual([i["spec"]["replicas"] for i in got["items"]], [4, 5, 0])
        self.assertEqual(got["items"][0]["spec"]["template"], deploy["spec"]["template"])

        for what in ("deploy/web", "rs/web-7d4b9c", "sts/db"):
            self.s.kubectl("delete", what, "-n", ns)
        self.assertEqual(self.s.ok("GET", "/apis/apps/v1/namespaces/%s/deployments" % ns)["items"],
                         [])
        while True:
            ev = w.next_not_bookmark()
            if ev["type"] == "DELETED":
                break
        self.assertEqual(ev["object"]["metadata"]["name"], "web")
        w.close()

    def test_scale_subresource(self):
        ns = self.fresh_namespace()
        apps = {r["name"]: r for r in self.s.ok("GET", "/apis/apps/v1")["resources"]}
        for plural in ("deployments", "replicasets", "statefulsets"):
            self.assertEqual((apps[plural + "/scale"]["group"], apps[plural + "/scale"]["kind"]),
                             ("autoscaling", "Scale"))
        self.assertEqual(apps["statefulsets"]["shortNames"], ["sts"])
        self.assertNotIn("daemonsets/scale", apps)
        path = "/apis/apps/v1/namespaces/%s/replicasets" % ns
        self.s.ok("POST", path, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "metadata": {"name": "r"},
                                 "spec": {"selector": {"matchLabels": {"a": "b"}}}})
        scale = self.s.ok("GET", path + "/r/scale")
        self.assertEqual((scale["apiVersion"], scale["kind"]), ("autoscaling/v1", "Scale"))
        self.assertEqual((scale["spec"]["replicas"], scale["status"]["selector"]), (1, "a=b"))
        put = self.s.ok("PUT", path + "/r/scale", dict(scale, spec={"replicas": 7}))
        self.assertEqual(put["spec"]["replicas"], 7)
        self.assertGreater(int(put["metadata"]["resourceVersion"]),
                           int(scale["metadata"]["resourceVersion"]))
        code, body = self.s.api("PUT", path + "/r/scale", dict(scale, spec={"replicas": 8}))
        self.assertEqual((code, body["reason"]), (409, "Conflict"))  # the old resourceVersion
        for bad in ({"spec": {"replicas": -1}}, {"spec": {"replicas": "3"}}):
            code, body = self.s.api("PATCH", path + "/r/scale", bad,
                                    "application/merge-patch+json")
            self.assertEqual((code, body["reason"]), (422, "Invalid"), body)
        self.assertEqual(self.s.ok("GET", path + "/r")["spec"]["replicas"], 7)
        code, _ = self.s.api("GET", path + "/nope/scale")
        self.assertEqual(code, 404)
        code, _ = self.s.api("GET", "/api/v1/namespaces/%s/pods/p/scale" % ns)
        self.assertEqual(code, 404)  # pods have no scale subresource

    # --- list and watch --------------------------------------------------------------------

    def test_list_then_watch_sees_added_modified_deleted_in_order(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        listed = self.s.ok("GET", pods)
        self.assertEqual((listed["kind"], listed["items"]), ("PodList", []))
        w = self.s.watch(pods, resourceVersion=listed["metadata"]["resourceVersion"])
        self.addCleanup(w.close)
        created = self.s.ok("POST", pods, pod(ns, "p1", {"app": "a"}))
        patched = self.s.ok("PATCH", pods + "/p1", {"metadata": {"labels": {"app": "b"}}},
                            "application/merge-patch+json")
        deleted = self.s.ok("DELETE", pods + "/p1")
        events = [w.next_not_bookmark() for _ in range(3)]
        self.assertEqual([e["type"] for e in events], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual([e["object"]["metadata"]["resourceVersion"] for e in events],
                         [created["metadata"]["resourceVersion"],
                          patched["metadata"]["resourceVersion"],
                          deleted["metadata"]["resourceVersion"]])
        self.assertEqual(events[0]["object"]["kind"], "Pod")
        self.assertEqual(events[1]["object"]["metadata"]["labels"], {"app": "b"})
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertLess(int(listed["metadata"]["resourceVersion"]), rvs[0])

    def test_watch_without_resource_version_starts_with_the_current_objects(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        for name in ("a", "b"):
            self.s.ok("POST", pods, pod(ns, name))
        w = self.s.watch(pods)
        self.addCleanup(w.close)
        first = [w.next_not_bookmark() for _ in range(2)]
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in first],
                         [("ADDED", "a"), ("ADDED", "b")])
        self.s.ok("DELETE", pods + "/a")
        ev = w.next_not_bookmark()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "a"))

    def test_watch_bookmarks_carry_the_newest_resource_version(self):
        ns = self.fresh_namespace()
        w = self.s.watch("/api/v1/namespaces/%s/pods" % ns, allowWatchBookmarks="true",
                         resourceVersion=self.s.ok("GET", "/api/v1/pods")["metadata"]["resourceVersion"])
        self.addCleanup(w.close)
        # A change elsewhere moves the global resourceVersion; the pod watch sees no event for
        # it, but its next bookmark carries it (that is what bookmarks are for).
        node = self.s.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                   "metadata": {"name": "bm-node"}})
        self.addCleanup(self.s.api, "DELETE", "/api/v1/nodes/bm-node")
        node_rv = int(node["metadata"]["resourceVersion"])
        ev = w.next(timeout=5)  # the periodic bookmark (--bookmark-interval 0.5)
        while int(ev["object"]["metadata"]["resourceVersion"]) < node_rv:
            self.assertEqual(ev["type"], "BOOKMARK")
            ev = w.next(timeout=5)
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["kind"], "Pod")
        self.assertEqual(ev["object"]["metadata"], {"resourceVersion": ev["object"]["metadata"]
                                                    ["resourceVersion"], "creationTimestamp": None})
        self.assertEqual(ev["object"]["spec"], {"containers": None})
        # ... and on command.
        before = time.monotonic()
        self.assertGreaterEqual(self.s.ok("POST", "/standin/bookmark")["watches"], 1)
        ev = w.next(timeout=5)
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertLess(time.monotonic() - before, 5)

    def test_send_initial_events_ends_with_an_annotated_bookmark(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        self.s.ok("POST", pods, pod(ns, "a"))
        w = self.s.watch(pods, sendInitialEvents="true", allowWatchBookmarks="true",
                         resourceVersionMatch="NotOlderThan")
        self.addCleanup(w.close)
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "a"))
        ev = w.next()
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})

    def test_closed_watch_clients_are_noticed(self):
        def open_watch():
            return [r for r in self.s.ok("GET", "/standin/stats")["watchRequests"]
                    if "closed-watch-probe" in r]
        w = self.s.watch("/api/v1/nodes", labelSelector="closed-watch-probe")
        self.s.wait_for("the watch to register", open_watch)
        w.close()
        self.s.wait_for("the stand-in to let the watch go", lambda: not open_watch())

    def test_list_at_a_future_resource_version_times_out(self):
        rv = int(self.s.ok("GET", "/api/v1/namespaces")["metadata"]["resourceVersion"])
        code, body = self.s.api("GET", "/api/v1/namespaces?resourceVersion=%d" % (rv + 1000))
        self.assertEqual((code, body["reason"]), (504, "Timeout"))
        listed = self.s.ok("GET", "/api/v1/namespaces?resourceVersion=%d" % rv)
        self.assertGreaterEqual(int(listed["metadata"]["resourceVersion"]), rv)

    def test_compacted_resource_version_gets_410_gone(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        old = self.s.ok("POST", pods, pod(ns, "p"))["metadata"]["resourceVersion"]
        self.s.ok("PATCH", pods + "/p", {"metadata": {"labels": {"x": "1"}}},
                  "application/merge-patch+json")
        # Before compaction the old version is still served, as an exact list and a watch.
        exact = self.s.ok("GET", pods + "?resourceVersion=%s&resourceVersionMatch=Exact" % old)
        self.assertEqual(exact["items"][0]["metadata"]["labels"], {})
        compacted = self.s.ok("POST", "/standin/compact")["compactedResourceVersion"]
        self.assertGreater(int(compacted), int(old))
        w = self.s.watch(pods, resourceVersion=old)
        self.addCleanup(w.close)
        ev = w.next()
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["kind"], ev["object"]["code"], ev["object"]["reason"]),
                         ("Status", 410, "Expired"))
        self.assertEqual(w.outcome()[0], "end")
        code, body = self.s.api("GET", pods + "?resourceVersion=%s&resourceVersionMatch=Exact" % old)
        self.assertEqual((code, body["reason"]), (410, "Expired"))
        # A watch from the compaction point itself is fine.
        w2 = self.s.watch(pods, resourceVersion=compacted)
        self.addCleanup(w2.close)
        self.s.ok("DELETE", pods + "/p")
        self.assertEqual(w2.next_not_bookmark()["type"], "DELETED")

    def test_dropped_watch_connection_on_command_and_clean_timeout(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        w = self.s.watch(pods, resourceVersion=self.s.ok("GET", pods)["metadata"]["resourceVersion"])
        self.addCleanup(w.close)
        self.s.ok("POST", pods, pod(ns, "p"))
        self.assertEqual(w.next()["type"], "ADDED")  # the watch is registered and live
        self.assertGreaterEqual(self.s.ok("POST", "/standin/drop-watches")["dropped"], 1)
        kind, detail = w.outcome()
        self.assertEqual(kind, "error", "a dropped connection must not look like a clean end")
        self.assertIsInstance(detail, (http.client.IncompleteRead, ConnectionError, ssl.SSLError))
        # timeoutSeconds ends a stream with the final chunk instead.
        started = time.monotonic()
        w2 = self.s.watch(pods, timeoutSeconds="1")
        self.addCleanup(w2.close)
        self.assertEqual(w2.outcome(timeout=10), ("end", None))
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_label_and_field_selectors_on_list_and_watch(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        self.s.ok("POST", pods, pod(ns, "a", {"app": "web", "tier": "front"}, "n1"))
        self.s.ok("POST", pods, pod(ns, "b", {"app": "db"}, "n2"))
        self.s.ok("POST", pods, pod(ns, "c", {"app": "web"}, "n2"))

        def names(**sel):
            body = self.s.ok("GET", pods + "?" + urllib.parse.urlencode(sel))
            return sorted(p["metadata"]["name"] for p in body["items"])

        self.assertEqual(names(labelSelector="app=web"), ["a", "c"])
        self.assertEqual(names(labelSelector="app==web,tier=front"), ["a"])
        self.assertEqual(names(labelSelector="app!=web"), ["b"])
        self.assertEqual(names(labelSelector="app in (db, web)"), ["a", "b", "c"])
        self.assertEqual(names(labelSelector="app notin (web)"), ["b"])
        self.assertEqual(names(labelSelector="tier"), ["a"])
        self.assertEqual(names(labelSelector="!tier"), ["b", "c"])
        self.assertEqual(names(fieldSelector="spec.nodeName=n2"), ["b", "c"])
        self.assertEqual(names(fieldSelector="metadata.name=b"), ["b"])
        self.assertEqual(names(fieldSelector="metadata.name!=b,spec.nodeName=n2"), ["c"])
        everywhere = self.s.ok("GET", "/api/v1/pods?" + urllib.parse.urlencode(
            {"fieldSelector": "metadata.namespace=%s" % ns, "labelSelector": "app=web"}))
        self.assertEqual(sorted(p["metadata"]["name"] for p in everywhere["items"]), ["a", "c"])
        code, body = self.s.api("GET", pods + "?fieldSelector=spec.bogus%3Dx")
        self.assertEqual((code, body["reason"]), (400, "BadRequest"))
        self.assertIn("field label not supported: spec.bogus", body["message"])
        code, body = self.s.api("GET", pods + "?labelSelector=app%20in%20(web")
        self.assertEqual(code, 400)

        # On a watch, a pod that stops matching arrives as DELETED, one that starts as ADDED.
        w = self.s.watch(pods, labelSelector="app=web",
                         resourceVersion=self.s.ok("GET", pods)["metadata"]["resourceVersion"])
        self.addCleanup(w.close)
        merge = "application/merge-patch+json"
        self.s.ok("PATCH", pods + "/a", {"metadata": {"labels": {"app": "old"}}}, merge)
        self.s.ok("PATCH", pods + "/b", {"metadata": {"labels": {"app": "web"}}}, merge)
        self.s.ok("PATCH", pods + "/c", {"metadata": {"annotations": {"k": "v"}}}, merge)
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in
               (w.next_not_bookmark() for _ in range(3))]
        self.assertEqual(got, [("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "c")])

    def test_watch_by_node_name_live_and_from_history(self):
        # quasard's watch of its node's pods: fieldSelector=spec.nodeName=<node>. A pod that
        # leaves the node arrives as DELETED (the previous object at the event's version, as the
        # real watch cache sends it), one scheduled onto it as ADDED, other nodes' pods not at
        # all; the same when the watch starts from an older version (history replay).
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        start_rv = self.s.ok("GET", pods)["metadata"]["resourceVersion"]
        live = self.s.watch("/api/v1/pods", fieldSelector="spec.nodeName=n1",
                            resourceVersion=start_rv)
        self.addCleanup(live.close)
        self.s.ok("POST", pods, pod(ns, "a", node="n1"))
        self.s.ok("POST", pods, pod(ns, "b", node="n2"))
        self.s.ok("POST", pods, pod(ns, "c", node=""))
        self.s.ok("PATCH", pods + "/b", {"metadata": {"labels": {"x": "1"}}},
                  "application/merge-patch+json")
        a = self.s.ok("GET", pods + "/a")
        a["spec"]["nodeName"] = "n2"
        moved = self.s.ok("PUT", pods + "/a", a)
        c = self.s.ok("GET", pods + "/c")
        c["spec"]["nodeName"] = "n1"
        self.s.ok("PUT", pods + "/c", c)
        self.s.ok("DELETE", pods + "/b")
        self.s.ok("DELETE", pods + "/c")
        want = [("ADDED", "a", "n1"), ("DELETED", "a", "n1"), ("ADDED", "c", "n1"),
                ("DELETED", "c", "n1")]
        events = [live.next_not_bookmark() for _ in want]
        got = [(e["type"], e["object"]["metadata"]["name"], e["object"]["spec"]["nodeName"])
               for e in events]
        self.assertEqual(got, want)
        self.assertEqual(events[1]["object"]["metadata"]["resourceVersion"],
                         moved["metadata"]["resourceVersion"])
        replay = self.s.watch("/api/v1/pods", fieldSelector="spec.nodeName=n1",
                              resourceVersion=start_rv)
        self.addCleanup(replay.close)
        got = [(e["type"], e["object"]["metadata"]["name"], e["object"]["spec"]["nodeName"])
               for e in (replay.next_not_bookmark() for _ in want)]
        self.assertEqual(got, want)
        # Nothing else came (b's changes and deletion): the next event is a later pod's.
        self.s.ok("POST", pods, pod(ns, "d", node="n1"))
        for w in (live, replay):
            ev = w.next_not_bookmark()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "d"))

    def test_paginated_list_with_continue(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        for i in range(5):
            self.s.ok("POST", pods, pod(ns, "p%d" % i))
        page = self.s.ok("GET", pods + "?limit=2")
        seen = [p["metadata"]["name"] for p in page["items"]]
        self.assertEqual(page["metadata"]["remainingItemCount"], 3)
        rv = page["metadata"]["resourceVersion"]
        self.s.ok("DELETE", pods + "/p4")  # later pages still show the list's snapshot
        while page["metadata"].get("continue"):
            page = self.s.ok("GET", pods + "?limit=2&continue=" + page["metadata"]["continue"])
            self.assertEqual(page["metadata"]["resourceVersion"], rv)
            seen += [p["metadata"]["name"] for p in page["items"]]
        self.assertEqual(seen, ["p0", "p1", "p2", "p3", "p4"])

    # --- writes ----------------------------------------------------------------------------

    def test_create_update_conflicts_and_status_subresource(self):
        ns = self.fresh_namespace()
        pods = "/api/v1/namespaces/%s/pods" % ns
        created = self.s.ok("POST", pods, pod(ns, "p"))
        meta = created["metadata"]
        self.assertTrue(meta["uid"] and meta["creationTimestamp"])
        self.assertEqual(meta["generation"], 1)
        code, body = self.s.api("POST", pods, pod(ns, "p"))
        self.assertEqual((code, body["reason"], body["status"]), (409, "AlreadyExists", "Failure"))
        code, body = self.s.api("POST", "/api/v1/namespaces/nowhere/pods", pod("nowhere", "p"))
        self.assertEqual((code, body["reason"]), (404, "NotFound"))

        update = json.loads(json.dumps(created))
        update["spec"]["nodeName"] = "n9"
        updated = self.s.ok("PUT", pods + "/p", update)
        self.assertEqual(updated["metadata"]["generation"], 2)
        self.assertGreater(int(updated["metadata"]["resourceVersion"]), int(meta["resourceVersion"]))
        code, body = self.s.api("PUT", pods + "/p", update)  # still carries the old version
        self.assertEqual((code, body["reason"]), (409, "Conflict"))

        status = dict(updated, status={"phase": "Running", "podIP": "10.1.2.3",
                                       "podIPs": [{"ip": "10.1.2.3"}]})
        after = self.s.ok("PUT", pods + "/p/status", status)
        self.assertEqual(after["status"]["podIPs"], [{"ip": "10.1.2.3"}])
        self.assertEqual(after["metadata"]["generation"], 2)
        # The main resource ignores status; the status subresource ignores everything else.
        again = dict(after, status={"phase": "Failed"})
        self.assertEqual(self.s.ok("PUT", pods + "/p", again)["status"]["phase"], "Running")
        patched = self.s.ok("PATCH", pods + "/p/status",
                            {"status": {"podIP": "10.1.2.4"}, "spec": {"nodeName": "x"}},
                            "application/strategic-merge-patch+json")
        self.assertEqual((patched["status"]["podIP"], patched["spec"]["nodeName"]), ("10.1.2.4", "n9"))
        self.assertEqual(self.s.ok("GET", "/api/v1/pods?fieldSelector=status.podIP%3D10.1.2.4")
                         ["items"][0]["metadata"]["name"], "p")
        jp = self.s.ok("PATCH", pods + "/p", [{"op": "add", "path": "/metadata/labels/j", "value": "1"}],
                       "application/json-patch+json")
        self.assertEqual(jp["metadata"]["labels"], {"j": "1"})
        code, body = self.s.api("PATCH", pods + "/p", [{"op": "test", "path": "/metadata/name",
                                                        "value": "q"}], "application/json-patch+json")
        self.assertEqual(code, 422)

    def test_deleting_a_namespace_deletes_its_objects(self):
        ns = self.fresh_namespace()
        self.s.ok("POST", "/api/v1/namespaces/%s/pods" % ns, pod(ns, "p"))
        self.s.ok("DELETE", "/api/v1/namespaces/" + ns)
        code, _ = self.s.api("GET", "/api/v1/namespaces/%s/pods/p" % ns)
        self.assertEqual(code, 404)

    # --- outages ---------------------------------------------------------------------------

    def test_down_refuses_connections_then_comes_back(self):
        w = self.s.watch("/api/v1/pods")
        self.addCleanup(w.close)
        self.s.ok("POST", "/standin/down?seconds=3")
        started = time.monotonic()
        self.assertEqual(w.outcome()[0], "error")

        def refused():
            try:
                self.s.api("GET", "/version")
                return False
            except ConnectionRefusedError:
                return True
        self.s.wait_for("connections refused", refused, timeout=3)

        def back():
            try:
                return self.s.api("GET", "/version")[0] == 200
            except OSError:
                return False
        self.s.wait_for("the stand-in to come back", back, timeout=15)
        self.assertGreaterEqual(time.monotonic() - started, 2.5)

    def test_injected_latency_delays_api_requests(self):
        self.s.ok("POST", "/standin/latency?ms=300")
        try:
            started = time.monotonic()
            self.s.ok("GET", "/api/v1/namespaces/default")
            self.assertGreaterEqual(time.monotonic() - started, 0.3)
        finally:
            self.s.ok("POST", "/standin/latency?ms=0")


class StandinHistoryTest(unittest.TestCase):
    """A short --history compacts by itself, as etcd's compaction does under a real server."""

    @classmethod
    def setUpClass(cls):
        cls.s = Standin("--history", "10")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_events_beyond_the_history_limit_get_410(self):
        s = self.s
        s.ok("POST", "/api/v1/namespaces", namespace("h"))
        first = s.ok("GET", "/api/v1/namespaces/h/pods")["metadata"]["resourceVersion"]
        rvs = [s.ok("POST", "/api/v1/namespaces/h/pods", pod("h", "p%d" % i))
               ["metadata"]["resourceVersion"] for i in range(20)]
        stats = s.ok("GET", "/standin/stats")
        self.assertLessEqual(stats["history"], 11)
        self.assertGreater(int(stats["compactedResourceVersion"]), int(first))
        w = s.watch("/api/v1/namespaces/h/pods", resourceVersion=first)
        self.addCleanup(w.close)
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
        w2 = s.watch("/api/v1/namespaces/h/pods", resourceVersion=rvs[-6])
        self.addCleanup(w2.close)
        got = [w2.next_not_bookmark()["object"]["metadata"]["name"] for _ in range(5)]
        self.assertEqual(got, ["p15", "p16", "p17", "p18", "p19"])


class StandinScaleTest(unittest.TestCase):
    """The benchmark's scale: 10,000 pods over 500 nodes and 1,000 NetworkPolicies."""

    PODS, NODES, POLICIES, WATCHERS = 10000, 500, 1000, 3

    @classmethod
    def setUpClass(cls):
        cls.s = Standin()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_bulk_load_then_list_and_watch_fan_out(self):
        s = self.s
        start_rv = s.ok("GET", "/api/v1/pods")["metadata"]["resourceVersion"]
        watches = [s.watch("/api/v1/pods", resourceVersion=start_rv) for _ in range(self.WATCHERS)]
        for w in watches:
            self.addCleanup(w.close)
        s.wait_for("watches registered", lambda: s.ok("GET", "/standin/stats")["watches"] >= self.WATCHERS)
        nss = ["bench-%d" % i for i in range(10)]
        items = [namespace(n) for n in nss]
        items += [{"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "node-%d" % i, "labels": {"kubernetes.io/hostname": "node-%d" % i}},
            "spec": {"podCIDR": "10.%d.%d.0/24" % (100 + i // 256, i % 256)}}
            for i in range(self.NODES)]
        for i in range(self.PODS):
            p = pod(nss[i % 10], "pod-%d" % i, {"app": "app-%d" % (i % 50)}, "node-%d" % (i % self.NODES))
            p["status"] = {"phase": "Running", "podIP": "10.%d.%d.%d" % (100 + (i % self.NODES) // 256, (i % self.NODES) % 256, 2 + i // self.NODES)}
            items.append(p)
        items += [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "np-%d" % i, "namespace": nss[i % 10]},
                   "spec": {"podSelector": {"matchLabels": {"app": "app-%d" % (i % 50)}},
                            "ingress": [{"from": [{"podSelector": {}}]}]}}
                  for i in range(self.POLICIES)]
        t0 = time.monotonic()
        loaded = s.ok("POST", "/standin/bulk", {"items": items})
        print("\nstandin bench: bulk load of %d objects: %.2f s" % (loaded["created"], time.monotonic() - t0))
        self.assertEqual(loaded["created"], len(items))

        t0 = time.monotonic()
        for i, w in enumerate(watches):
            names = set()
            while len(names) < self.PODS:
                ev = w.next_not_bookmark(timeout=60)
                self.assertEqual(ev["type"], "ADDED")
                names.add(ev["object"]["metadata"]["name"])
        print("standin bench: %d watchers each got %d ADDED events: %.2f s after the bulk load" %
              (self.WATCHERS, self.PODS, time.monotonic() - t0))

        for attempt in ("first", "second"):
            t0 = time.monotonic()
            raw = s.raw("GET", "/api/v1/pods")
            fetched = time.monotonic() - t0
            pods = json.loads(raw)
            print("standin bench: %s list of all %d pods (%.1f MB): %.3f s to receive, "
                  "%.3f s with the client's JSON parse" % (attempt, len(pods["items"]),
                                                          len(raw) / 1e6, fetched,
                                                          time.monotonic() - t0))
            self.assertEqual(len(pods["items"]), self.PODS)
            self.assertLess(fetched, 5.0)
        t0 = time.monotonic()
        pols = s.ok("GET", "/apis/networking.k8s.io/v1/networkpolicies")
        print("standin bench: list of all %d NetworkPolicies: %.3f s" % (len(pols["items"]), time.monotonic() - t0))
        self.assertEqual(len(pols["items"]), self.POLICIES)
        self.assertEqual(len(s.ok("GET", "/api/v1/nodes")["items"]), self.NODES)
        on7 = s.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-7")
        self.assertEqual(len(on7["items"]), self.PODS // self.NODES)

        pages, t0 = 0, time.monotonic()
        page = {"metadata": {"continue": ""}}
        count = 0
        while pages == 0 or page["metadata"].get("continue"):
            page = s.ok("GET", "/api/v1/pods?limit=500&continue=" + page["metadata"]["continue"])
            count += len(page["items"])
            pages += 1
        print("standin bench: paginated list (limit 500): %d pages, %.3f s" % (pages, time.monotonic() - t0))
        self.assertEqual((count, pages), (self.PODS, self.PODS // 500))


if __name__ == "__main__":
    unittest.main(verbosity=2)
