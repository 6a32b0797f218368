"""The invariants of conf/k8s/quasar.yaml, as pure functions over the manifest's objects (JSON,
as `kubectl apply --dry-run=client -o json` prints them): each returns a list of problems, empty
when the manifest keeps every invariant. tests/k8s/manifest_test.py runs them on the real file
and on broken copies. Also a small validator of objects against a CRD's structural schema (the
stand-in validates nothing). Python 3 standard library only.
"""

import ipaddress
import json
import re

NAMESPACE = "kube-system"
READ = {"get", "list", "watch"}
# (apiGroup, resource) -> the verbs quasard may have on it. Nothing else, no "*".
ALLOWED = {
    ("", "nodes"): READ | {"patch"},  # patch: its own Node's annotation (tunnel address)
    ("", "pods"): READ,
    ("", "namespaces"): READ,
    ("networking.k8s.io", "networkpolicies"): READ,
    ("quasar.io", "floatingippools"): READ,
    ("quasar.io", "networkpolicies"): READ,
    ("apps", "statefulsets"): READ,
    ("apps", "deployments"): READ,
    ("apps", "replicasets"): READ,
}
# And all of it is needed: quasard's watches (and its Node annotation) break without any one.
NEEDED = ALLOWED
CAPABILITIES = {"NET_ADMIN", "NET_RAW", "SYS_ADMIN"}
HOST_PATHS = {"/opt/cni/bin", "/etc/cni/net.d", "/var/lib/quasar", "/run/quasar",
              "/run/xtables.lock"}
KINDS = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
         "CustomResourceDefinition", "ConfigMap", "DaemonSet"]
FIP_FIELDS = {"subnet", "gateway", "ranges", "exclude", "vlan", "nodeSubnets", "nodeSelector",
              "maxAllocated", "mode"}


def _one(objs, kind, name=None):
    found = [o for o in objs if o.get("kind") == kind
             and (name is None or o.get("metadata", {}).get("name") == name)]
    return found[0] if len(found) == 1 else None


def check_rbac(objs):
    p = []
    role = _one(objs, "ClusterRole", "quasar")
    if role is None:
        return ["no ClusterRole quasar"]
    granted = {}
    for i, rule in enumerate(role.get("rules", [])):
        where = "ClusterRole rule %d" % i
        if rule.get("nonResourceURLs") or rule.get("resourceNames"):
            p.append(where + ": nonResourceURLs/resourceNames not expected")
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    if "*" in (g, r, v):
                        p.append("%s: wildcard in %r/%r/%r" % (where, g, r, v))
                    elif v not in ALLOWED.get((g, r), set()):
                        p.append("%s: verb %s on %s/%s is not allowed" % (where, v, g or "core", r))
                    granted.setdefault((g, r), set()).add(v)
    for key, verbs in NEEDED.items():
        missing = verbs - granted.get(key, set())
        if missing:
            p.append("ClusterRole lacks %s on %s/%s" % (sorted(missing), key[0] or "core", key[1]))
    binding = _one(objs, "ClusterRoleBinding", "quasar")
    sa = _one(objs, "ServiceAccount", "quasar")
    if binding is None or sa is None:
        return p + ["no ClusterRoleBinding or ServiceAccount quasar"]
    if binding.get("roleRef", {}).get("kind") != "ClusterRole" or \
            binding["roleRef"].get("name") != "quasar":
        p.append("ClusterRoleBinding does not refer to ClusterRole quasar")
    subjects = [(s.get("kind"), s.get("name"), s.get("namespace"))
                for s in binding.get("subjects", [])]
    if subjects != [("ServiceAccount", "quasar", NAMESPACE)]:
        p.append("ClusterRoleBinding subjects %r: want only ServiceAccount %s/quasar"
                 % (subjects, NAMESPACE))
    if sa["metadata"].get("namespace") != NAMESPACE:
        p.append("ServiceAccount not in " + NAMESPACE)
    return p


def image_problem(image, version):
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return "image %s has no tag" % image
    if tag != version:
        return "image %s: tag must be the project version %s (never latest)" % (image, version)
    return None


def _probe(c, which, path, host, port):
    get = (c.get(which) or {}).get("httpGet")
    if not get:
        return ["container %s has no %s with httpGet" % (c["name"], which)]
    got = (get.get("path"), get.get("host"), get.get("port"))
    return [] if got == (path, host, port) else \
        ["%s of %s is %r, want %r" % (which, c["name"], got, (path, host, port))]


def check_daemonset(objs, version, metrics):
    ds = _one(objs, "DaemonSet", "quasar")
    if ds is None:
        return ["no DaemonSet quasar"]
    p = []
    if ds["metadata"].get("namespace") != NAMESPACE:
        p.append("DaemonSet not in " + NAMESPACE)
    strat = ds["spec"].get("updateStrategy", {})
    if strat.get("type") != "RollingUpdate" or \
            strat.get("rollingUpdate", {}).get("maxUnavailable") != 1:
        p.append("updateStrategy must be RollingUpdate with maxUnavailable 1")
    pod = ds["spec"]["template"]["spec"]
    if pod.get("hostNetwork") is not True:
        p.append("hostNetwork must be true")
    if pod.get("hostPID") or pod.get("hostIPC"):
        p.append("hostPID and hostIPC must be off")
    if pod.get("priorityClassName") != "system-node-critical":
        p.append("priorityClassName must be system-node-critical")
    if pod.get("serviceAccountName") != "quasar":
        p.append("serviceAccountName must be quasar")
    if not any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
               for t in pod.get("tolerations", [])):
        p.append("no toleration for every taint (operator Exists, no key, no effect)")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for v in vols.values():
        if "hostPath" in v and v["hostPath"]["path"] not in HOST_PATHS:
            p.append("hostPath %s is not one quasar needs" % v["hostPath"]["path"])

    def host_mounts(c):
        return {vols[m["name"]]["hostPath"]["path"]: m for m in c.get("volumeMounts", [])
                if "hostPath" in vols.get(m["name"], {})}

    inits, mains = pod.get("initContainers", []), pod.get("containers", [])
    for c in inits + mains:
        problem = image_problem(c.get("image", ""), version)
        if problem:
            p.append(problem)
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            p.append("container %s must not be privileged" % c["name"])
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            p.append("container %s must drop ALL capabilities" % c["name"])
    cni = [c for c in inits if c["name"] == "install-cni"]
    if len(cni) != 1:
        p.append("no init container install-cni")
    else:
        c = cni[0]
        mounts = host_mounts(c)
        script = " ".join(c.get("command", []) + c.get("args", []))
        for host in ("/opt/cni/bin", "/etc/cni/net.d"):
            if host not in mounts or mounts[host].get("readOnly"):
                p.append("install-cni does not mount %s writable" % host)
            elif mounts[host]["mountPath"] not in script:
                p.append("install-cni's script does not write to %s" % host)
        if c.get("securityContext", {}).get("capabilities", {}).get("add"):
            p.append("install-cni needs no added capability")
    main = [c for c in mains if c["name"] == "quasard"]
    if len(main) != 1:
        return p + ["no container quasard"]
    c = main[0]
    added = set(c.get("securityContext", {}).get("capabilities", {}).get("add", []))
    if added != CAPABILITIES:
        p.append("quasard's capabilities %s, want exactly %s"
                 % (sorted(added), sorted(CAPABILITIES)))
    host, _, port = (metrics or "").rpartition(":")
    if not port.isdigit():
        p.append("daemon config has no metricsAddress host:port")
    else:
        p += _probe(c, "livenessProbe", "/healthz", host, int(port))
        p += _probe(c, "readinessProbe", "/readyz", host, int(port))
    mounts = host_mounts(c)
    for host in ("/var/lib/quasar", "/run/quasar"):
        if mounts.get(host, {}).get("mountPath") != host:
            p.append("quasard does not mount the node's %s" % host)
    for host in ("/opt/cni/bin", "/etc/cni/net.d"):
        if host in mounts:
            p.append("quasard needs no mount of %s" % host)
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {})
    if ref.get("fieldPath") != "spec.nodeName":
        p.append("quasard has no env NODE_NAME from spec.nodeName")
    if "--node-name=$(NODE_NAME)" not in c.get("command", []) + c.get("args", []):
        p.append("quasard is not given --node-name=$(NODE_NAME)")
    if not c.get("resources", {}).get("requests"):
        p.append("quasard has no resource requests")
    return p


def daemon_config_value(text, key):
    """The value of a top-level scalar key in the daemon config (plain YAML, no python3-yaml)."""
    m = re.search(r"^%s:[ \t]*(\S*)" % re.escape(key), text, re.M)
    return m.group(1).strip("\"'") if m else None


def check_configmap(objs, shipped_conflist):
    cm = _one(objs, "ConfigMap", "quasar-config")
    if cm is None:
        return ["no ConfigMap quasar-config"], None
    data, p = cm.get("data", {}), []
    try:
        conf = json.loads(data.get("10-quasar.conflist", ""))
    except ValueError as e:
        return ["the ConfigMap's conflist is not JSON: %s" % e], None
    versions = conf.get("cniVersions", [])
    if "1.1.0" not in versions or conf.get("cniVersion") not in versions:
        p.append("conflist: cniVersions must list 1.1.0 and cniVersion %s" % conf.get("cniVersion"))
    plugins = conf.get("plugins") or [{}]
    if plugins[0].get("type") != "quasar":
        p.append("conflist: the first plugin must be quasar")
    if conf != shipped_conflist:
        p.append("the ConfigMap's conflist differs from conf/10-quasar.conflist")
    daemon = data.get("quasard.yaml", "")
    if daemon_config_value(daemon, "cniSocket") != plugins[0].get("socket"):
        p.append("daemon config's cniSocket differs from the conflist's socket")
    if not (plugins[0].get("socket") or "").startswith("/run/quasar/"):
        p.append("the plugin's socket is not under /run/quasar (the host mount)")
    if daemon_config_value(daemon, "nodeName") is not None:
        p.append("daemon config must not set nodeName: one config serves every node")
    if daemon_config_value(daemon, "ipam") != "kubernetes" or \
            not re.search(r"^kubernetes:", daemon, re.M):
        p.append("daemon config must use the Kubernetes source and ipam: kubernetes")
    return p, daemon_config_value(daemon, "metricsAddress")


def check_crds(objs):
    p = []
    want = {"floatingippools.quasar.io": ("FloatingIPPool", "Cluster"),
            "networkpolicies.quasar.io": ("NetworkPolicy", "Namespaced")}
    for name, (kind, scope) in want.items():
        crd = _one(objs, "CustomResourceDefinition", name)
        if crd is None:
            p.append("no CRD " + name)
            continue
        s = crd["spec"]
        got = (s.get("group"), s.get("names", {}).get("kind"), s.get("scope"))
        if got != ("quasar.io", kind, scope):
            p.append("CRD %s is %r, want %r" % (name, got, ("quasar.io", kind, scope)))
        vs = s.get("versions", [])
        if [(v.get("name"), v.get("served"), v.get("storage")) for v in vs] != [("v1", True, True)]:
            p.append("CRD %s must serve and store exactly v1" % name)
            continue
        schema = vs[0].get("schema", {}).get("openAPIV3Schema", {})
        p += ["CRD %s: %s" % (name, e) for e in structural(schema)]
        spec = schema.get("properties", {}).get("spec", {}).get("properties", {})
        if kind == "FloatingIPPool":
            if set(spec) != FIP_FIELDS:
                p.append("FloatingIPPool spec fields %s, want %s"
                         % (sorted(spec), sorted(FIP_FIELDS)))
            if spec.get("mode", {}).get("enum") != ["veth", "macvlan"]:
                p.append("FloatingIPPool mode must be enum veth|macvlan")
            if not vs[0].get("additionalPrinterColumns"):
                p.append("FloatingIPPool has no printer columns")
        else:
            rule = lambda d: spec.get(d, {}).get("items", {}).get("properties", {})  # noqa: E731
            peers = [rule(d).get(k, {}).get("items", {}) for d, k in (("ingress", "from"),
                                                                      ("egress", "to"))]
            if "nodeSelector" not in spec or any(
                    set(pr.get("properties", {})) != {"podSelector", "namespaceSelector",
                                                      "nodeSelector", "ipBlock"} for pr in peers):
                p.append("quasar NetworkPolicy needs spec.nodeSelector and peers with "
                         "podSelector, namespaceSelector, nodeSelector, ipBlock")
    return p


def check(objs, version, shipped_conflist):
    """Every invariant of the install manifest; [] when all hold."""
    kinds = [o.get("kind") for o in objs]
    p = [] if kinds == KINDS else ["objects %s, want %s" % (kinds, KINDS)]
    cm, metrics = check_configmap(objs, shipped_conflist)
    return p + check_rbac(objs) + check_daemonset(objs, version, metrics) + cm + check_crds(objs)


# --- structural schemas and validation against them ------------------------------------------

def structural(schema, path="openAPIV3Schema"):
    """Kubernetes' structural-schema rule, as far as quasar's CRDs use it: every node says its
    type (or is int-or-string); no field kept unvalidated."""
    p = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        p.append(path + ": x-kubernetes-preserve-unknown-fields (write the schema out)")
    if not schema.get("type") and not schema.get("x-kubernetes-int-or-string"):
        p.append(path + ": no type")
    for k, sub in schema.get("properties", {}).items():
        p += structural(sub, path + ".properties." + k)
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            p += structural(schema[k], path + "." + k)
    return p


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def validate(value, schema, path="$"):
    """Errors of value against a structural schema: type, properties (unknown fields refused, as
    kubectl's default strict field validation does), required, enum, bounds, formats."""
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return [] if ok else ["%s: must be an integer or a string" % path]
    t = schema.get("type")
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return ["%s: must be an integer" % path]
    elif t == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return ["%s: must be a number" % path]
    elif t in TYPES and not isinstance(value, TYPES[t]):
        return ["%s: must be of type %s" % (path, t)]
    p = []
    if "enum" in schema and value not in schema["enum"]:
        p.append("%s: %r not in %r" % (path, value, schema["enum"]))
    if "minimum" in schema and value < schema["minimum"]:
        p.append("%s: below %s" % (path, schema["minimum"]))
    if "maximum" in schema and value > schema["maximum"]:
        p.append("%s: above %s" % (path, schema["maximum"]))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        p.append("%s: longer than %d" % (path, schema["maxLength"]))
    if "minItems" in schema and len(value) < schema["minItems"]:
        p.append("%s: fewer than %d items" % (path, schema["minItems"]))
    if schema.get("format") == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            p.append("%s: %r is not a CIDR" % (path, value))
    if t == "object":
        props = schema.get("properties")
        for k in schema.get("required", []):
            if k not in value:
                p.append("%s.%s: required" % (path, k))
        for k, v in value.items():
            if props is not None and k in props:
                p += validate(v, props[k], path + "." + k)
            elif isinstance(schema.get("additionalProperties"), dict):
                p += validate(v, schema["additionalProperties"], path + "." + k)
            elif props is not None:
                p.append("%s.%s: unknown field" % (path, k))
    if t == "array":
        for i, v in enumerate(value):
            p += validate(v, schema.get("items", {}), "%s[%d]" % (path, i))
    return p
