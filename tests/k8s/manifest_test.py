#!/usr/bin/python3
"""The install manifest conf/k8s/quasar.yaml, through the real kubectl against the Kubernetes API
server stand-in (tests/k8s/apiserver_standin.py): `kubectl apply --dry-run=client` parses it and
its invariants hold (tests/k8s/manifest_check.py; each one is also shown to fail on a copy that
breaks it); `kubectl apply` creates every object and the example FloatingIPPool and quasar
NetworkPolicy, which also validate against the CRDs' schemas; the init container's script
installs the plugin and the conflist. Label netns: run through tests/in-netns.sh.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # nothing written into the source tree

import manifest_check as mc  # noqa: E402
from standin_test import Standin  # noqa: E402

MANIFEST = os.path.join(ROOT, "conf", "k8s", "quasar.yaml")
EXAMPLES = os.path.join(ROOT, "conf", "k8s", "examples")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(quasar VERSION ([0-9.]+)", f.read()).group(1)


def shipped_conflist():
    with open(os.path.join(ROOT, "conf", "10-quasar.conflist")) as f:
        return json.load(f)


def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def pod_spec(objs):
    return find(objs, "DaemonSet", "quasar")["spec"]["template"]["spec"]


def container(objs, name):
    spec = pod_spec(objs)
    return next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name)


def rules(objs):
    return find(objs, "ClusterRole", "quasar")["rules"]


def crd_schema(objs, name):
    crd = find(objs, "CustomResourceDefinition", name)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def set_config(objs, key, value):
    cm = find(objs, "ConfigMap", "quasar-config")["data"]
    cm["quasard.yaml"] = re.sub(r"^%s:.*$" % key, "%s: %s" % (key, value), cm["quasard.yaml"],
                                flags=re.M)


# Broken copies of the manifest, each with the word its problem report must contain.
MUTATIONS = {
    "wildcard verb": (lambda o: rules(o)[0]["verbs"].append("*"), "wildcard"),
    "read secrets": (lambda o: rules(o).append(
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}), "secrets"),
    "create pods": (lambda o: rules(o)[2]["verbs"].append("create"), "create"),
    "update nodes": (lambda o: rules(o)[1]["verbs"].append("update"), "update"),
    "delete nodes": (lambda o: rules(o)[1]["verbs"].append("delete"), "delete"),
    "no pod watch": (lambda o: rules(o)[2]["verbs"].remove("watch"), "lacks"),
    "binding to default": (lambda o: find(o, "ClusterRoleBinding", "quasar")["subjects"][0]
                           .update(name="default"), "subjects"),
    "latest tag": (lambda o: container(o, "quasard").update(
        image="ghcr.io/quasar-cni/quasar:latest"), "latest"),
    "no tag": (lambda o: container(o, "install-cni").update(
        image="ghcr.io/quasar-cni/quasar"), "no tag"),
    "no liveness": (lambda o: container(o, "quasard").pop("livenessProbe"), "livenessProbe"),
    "readiness on healthz": (lambda o: container(o, "quasard")["readinessProbe"]["httpGet"]
                             .update(path="/healthz"), "readinessProbe"),
    "probe on pod IP": (lambda o: container(o, "quasard")["livenessProbe"]["httpGet"]
                        .pop("host"), "livenessProbe"),
    "metrics elsewhere": (lambda o: set_config(o, "metricsAddress", "127.0.0.1:9999"),
                          "Probe"),
    "gpu taint only": (lambda o: pod_spec(o).update(
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]), "toleration"),
    "NoSchedule only": (lambda o: pod_spec(o).update(
        tolerations=[{"operator": "Exists", "effect": "NoSchedule"}]), "toleration"),
    "extra capability": (lambda o: container(o, "quasard")["securityContext"]["capabilities"]
                         ["add"].append("SYS_PTRACE"), "capabilities"),
    "no NET_RAW": (lambda o: container(o, "quasard")["securityContext"]["capabilities"]
                   ["add"].remove("NET_RAW"), "capabilities"),
    "privileged": (lambda o: container(o, "quasard")["securityContext"].update(privileged=True),
                   "privileged"),
    "keeps capabilities": (lambda o: container(o, "install-cni")["securityContext"].pop(
        "capabilities"), "drop ALL"),
    "no hostNetwork": (lambda o: pod_spec(o).update(hostNetwork=False), "hostNetwork"),
    "hostPID": (lambda o: pod_spec(o).update(hostPID=True), "hostPID"),
    "host root": (lambda o: pod_spec(o)["volumes"].append(
        {"name": "root", "hostPath": {"path": "/"}}), "hostPath /"),
    "cni bin elsewhere": (lambda o: next(v for v in pod_spec(o)["volumes"] if v["name"] ==
                                         "cni-bin")["hostPath"].update(path="/usr/libexec/cni"),
                          "hostPath /usr/libexec/cni"),
    "script skips net.d": (lambda o: container(o, "install-cni").update(
        command=["/bin/sh", "-c", "cp /usr/local/bin/quasar /host/opt/cni/bin/"]),
        "/etc/cni/net.d"),
    "surge of updates": (lambda o: find(o, "DaemonSet", "quasar")["spec"]["updateStrategy"]
                         ["rollingUpdate"].update(maxUnavailable="100%"), "maxUnavailable"),
    "no node name": (lambda o: container(o, "quasard").pop("env"), "NODE_NAME"),
    "no priority": (lambda o: pod_spec(o).pop("priorityClassName"), "priorityClassName"),
    "namespaced pool": (lambda o: find(o, "CustomResourceDefinition", "floatingippools.quasar.io")
                        ["spec"].update(scope="Namespaced"), "floatingippools.quasar.io"),
    "pool group": (lambda o: find(o, "CustomResourceDefinition", "networkpolicies.quasar.io")
                   ["spec"].update(group="quasar.example"), "networkpolicies.quasar.io"),
    "mode enum": (lambda o: crd_schema(o, "floatingippools.quasar.io")["properties"]["spec"]
                  ["properties"]["mode"].update(enum=["veth", "bridge"]), "mode"),
    "untyped schema": (lambda o: crd_schema(o, "networkpolicies.quasar.io")["properties"]["spec"]
                       ["properties"].update(ingress={"x-kubernetes-preserve-unknown-fields":
                                                      True}), "preserve-unknown"),
    "peer without nodeSelector": (lambda o: crd_schema(o, "networkpolicies.quasar.io")
                                  ["properties"]["spec"]["properties"]["egress"]["items"]
                                  ["properties"]["to"]["items"]["properties"].pop("nodeSelector"),
                                  "nodeSelector"),
    "conflist not JSON": (lambda o: find(o, "ConfigMap", "quasar-config")["data"].update(
        {"10-quasar.conflist": "{\"cniVersion\": "}), "not JSON"),
    "conflist type": (lambda o: find(o, "ConfigMap", "quasar-config")["data"].update(
        {"10-quasar.conflist": json.dumps(dict(shipped_conflist(), plugins=[{"type": "bridge"}]))}),
        "first plugin"),
    "node name in config": (lambda o: find(o, "ConfigMap", "quasar-config")["data"].update(
        {"quasard.yaml": "nodeName: n1\n" + find(o, "ConfigMap", "quasar-config")["data"]
         ["quasard.yaml"]}), "nodeName"),
    "extra object": (lambda o: o.append({"kind": "Secret", "metadata": {"name": "x"}}), "objects"),
}


class ManifestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Standin()
        try:
            run = cls.s.kubectl("apply", "--dry-run=client", "--validate=false", "-o", "json",
                                "-f", MANIFEST)
            out = json.loads(run.stdout)
            cls.objs = out["items"] if out.get("kind") == "List" else [out]
        except Exception:
            cls.s.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def problems(self, objs):
        return mc.check(objs, project_version(), shipped_conflist())

    def test_invariants_hold(self):
        self.assertEqual(self.problems(self.objs), [])

    def test_each_broken_invariant_is_caught(self):
        self.assertEqual(self.problems(copy.deepcopy(self.objs)), [])
        for name, (mutate, word) in MUTATIONS.items():
            with self.subTest(name):
                objs = copy.deepcopy(self.objs)
                mutate(objs)
                found = self.problems(objs)
                self.assertTrue(any(word in p for p in found),
                                "%s: no problem mentions %r: %s" % (name, word, found))

    def test_apply_creates_everything_then_examples(self):
        s = self.s
        out = s.kubectl("apply", "--validate=false", "-f", MANIFEST).stdout
        self.assertEqual(out.count(" created"), len(mc.KINDS), out)
        # Applying it again (an upgrade with nothing changed) creates nothing.
        again = s.kubectl("apply", "--validate=false", "-f", MANIFEST).stdout
        self.assertNotIn(" created", again)
        ds = json.loads(s.kubectl("get", "-n", "kube-system", "daemonset", "quasar",
                                  "-o", "json").stdout)
        self.assertEqual(ds["spec"]["template"]["spec"]["hostNetwork"], True)

        for example, resource in (("floatingippool.yaml", "floatingippools.quasar.io"),
                                  ("networkpolicy.yaml", "networkpolicies.quasar.io")):
            with self.subTest(example):
                path = os.path.join(EXAMPLES, example)
                s.kubectl("apply", "--validate=false", "-f", path)
                got = json.loads(s.kubectl("get", "-f", path, "-o", "json").stdout)
                self.assertEqual(got["apiVersion"], "quasar.io/v1")
                body = {k: got[k] for k in ("apiVersion", "kind", "metadata", "spec")}
                self.assertEqual(mc.validate(body, crd_schema(self.objs, resource)), [])
        pools = json.loads(s.kubectl("get", "fippool", "-o", "json").stdout)["items"]
        self.assertEqual([p["metadata"]["name"] for p in pools], ["gpu-underlay"])
        self.assertEqual(pools[0]["spec"]["nodeSelector"], {"nvidia.com/gpu.present": "true"})
        pols = json.loads(s.kubectl("get", "qnetpol", "-n", "default", "-o", "json").stdout)
        self.assertEqual(len(pols["items"]), 1)

        # Uninstall: everything goes, the custom objects with their CRDs.
        s.kubectl("delete", "-f", MANIFEST, "--wait=false")
        left = s.kubectl("get", "crd", "-o", "json").stdout
        self.assertNotIn("quasar.io", left)
        code, _ = s.api("GET", "/apis/quasar.io/v1/floatingippools")
        self.assertEqual(code, 404)

    def test_schemas_refuse_bad_objects(self):
        pool = {"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
                "metadata": {"name": "p"},
                "spec": {"subnet": "10.20.0.0/24", "gateway": "10.20.0.1",
                         "ranges": ["10.20.0.100-10.20.0.199"], "vlan": 0, "mode": "macvlan",
                         "nodeSelector": {"nvidia.com/gpu.present": "true"}}}
        schema = crd_schema(self.objs, "floatingippools.quasar.io")
        self.assertEqual(mc.validate(pool, schema), [])
        for field, value, word in (("mode", "bridge", "not in"), ("vlan", 4095, "above"),
                                   ("subnet", "10.20.0.0/33", "CIDR"), ("ranges", [], "fewer"),
                                   ("maxAllocated", "80", "integer"), ("vlans", 1, "unknown"),
                                   ("nodeSelector", {"a": 1}, "string")):
            with self.subTest(field=field):
                bad = copy.deepcopy(pool)
                bad["spec"][field] = value
                self.assertTrue(any(word in e for e in mc.validate(bad, schema)), field)
        del pool["spec"]["subnet"]
        self.assertIn("$.spec.subnet: required", mc.validate(pool, schema))

        schema = crd_schema(self.objs, "networkpolicies.quasar.io")
        pol = {"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "n", "namespace": "default"},
               "spec": {"podSelector": {}, "ingress": [{"from": [{"nodeSelector": {
                   "matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}],
                   "ports": [{"port": "http"}, {"port": 80, "endPort": 90}]}]}}
        self.assertEqual(mc.validate(pol, schema), [])
        peer = pol["spec"]["ingress"][0]["from"][0]["nodeSelector"]["matchExpressions"][0]
        peer["operator"] = "Equals"
        self.assertTrue(any("not in" in e for e in mc.validate(pol, schema)))
        peer["operator"] = "Exists"
        pol["spec"]["ingress"][0]["ports"][0]["port"] = 1.5
        self.assertTrue(any("integer or a string" in e for e in mc.validate(pol, schema)))
        pol["spec"]["ingress"][0]["ports"][0] = {"protocol": "ICMP"}
        self.assertTrue(any("not in" in e for e in mc.validate(pol, schema)))

    def test_install_script_installs_atomically(self):
        c = container(self.objs, "install-cni")
        script = c["command"][-1]
        conflist = find(self.objs, "ConfigMap", "quasar-config")["data"]["10-quasar.conflist"]
        with tempfile.TemporaryDirectory() as root:
            # The container's paths, under a temporary root.
            for d in ("host/opt/cni/bin", "host/etc/cni/net.d", "etc/quasar", "usr/local/bin"):
                os.makedirs(os.path.join(root, d))
            with open(os.path.join(root, "usr/local/bin/quasar"), "w") as f:
                f.write("#!/bin/sh\necho plugin v2\n")
            with open(os.path.join(root, "etc/quasar/10-quasar.conflist"), "w") as f:
                f.write(conflist)
            with open(os.path.join(root, "host/opt/cni/bin/quasar"), "w") as f:
                f.write("old binary")
            local = re.sub(r"(?<![\w.])/(host|etc/quasar|usr/local/bin)/", root + r"/\1/", script)
            self.assertNotEqual(local, script)
            for _ in range(2):  # a restarted init container installs again
                run = subprocess.run(["/bin/sh", "-ec", local], capture_output=True, text=True)
                self.assertEqual(run.returncode, 0, run.stderr)
            bin_dir = os.path.join(root, "host/opt/cni/bin")
            net_dir = os.path.join(root, "host/etc/cni/net.d")
            self.assertEqual(sorted(os.listdir(bin_dir)), ["quasar"])  # no temporary left
            self.assertEqual(sorted(os.listdir(net_dir)), ["10-quasar.conflist"])
            self.assertEqual(os.stat(os.path.join(bin_dir, "quasar")).st_mode & 0o777, 0o755)
            self.assertEqual(os.stat(os.path.join(net_dir, "10-quasar.conflist")).st_mode & 0o777,
                             0o644)
            with open(os.path.join(net_dir, "10-quasar.conflist")) as f:
                self.assertEqual(json.load(f)["plugins"][0]["type"], "quasar")
            out = subprocess.run([os.path.join(bin_dir, "quasar")], capture_output=True,
                                 text=True).stdout
            self.assertEqual(out, "plugin v2\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
