"""The cluster that scripts/bench-k8s.sh loads into the Kubernetes API server stand-in:
namespaces, nodes, pods and NetworkPolicies shaped like a real cluster's, deterministic (the
same arguments give the same objects), for POST /standin/bulk (status kept).

Layout (node i counts from 1):
- Node node-%04d: labels hostname/os/arch/zone/instance type, every 8th a GPU node
  (nvidia.com/gpu.present=true, product, count; a nvidia.com/gpu taint);
  spec.podCIDR(s) 10.(240 + i/256).(i%256).0/24; InternalIP 10.250.(i/256).(i%256).
- Namespace <team>-<env>: labels team, env.
- Pods: Deployments of 25 replicas (app, tier, team, pod-template-hash labels; a ReplicaSet
  ownerReference), 1-2 containers with named ports, phase Running, podIP(s) in their node's
  podCIDR, spread evenly over the nodes.
- NetworkPolicies: one default deny per namespace, the rest allow an app's port from pods
  (by tier, matchExpressions) in namespaces of its team and from an ipBlock; some have egress.
"""

import hashlib

TEAMS = ["payments", "search", "ml", "web", "data"]
ENVS = ["prod", "staging", "dev", "ci"]
TIERS = ["frontend", "backend", "cache", "db"]
ZONES = ["zone-a", "zone-b", "zone-c"]
REPLICAS = 25
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses in generated names
CREATED = "2026-01-01T00:00:00Z"


def node_name(i):
    return "node-%04d" % i


def node_pod_cidr(i):
    return "10.%d.%d.0/24" % (240 + i // 256, i % 256)


def node_ip(i):
    return "10.250.%d.%d" % (i // 256, i % 256)


def _suffix(seed, n):
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:n])


def namespaces(count):
    out = []
    for k in range(count):
        team, env = TEAMS[k % len(TEAMS)], ENVS[(k // len(TEAMS)) % len(ENVS)]
        name = "%s-%s" % (team, env) if k < len(TEAMS) * len(ENVS) else "%s-%s-%d" % (team, env, k)
        out.append({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"team": team, "env": env}}})
    return out


def node(i):
    labels = {"kubernetes.io/hostname": node_name(i), "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
              "node.kubernetes.io/instance-type": "m6i.4xlarge"}
    spec = {"podCIDR": node_pod_cidr(i), "podCIDRs": [node_pod_cidr(i)],
            "providerID": "bench://%s" % node_name(i)}
    if i % 8 == 0:
        labels.update({"nvidia.com/gpu.present": "true",
                       "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "8",
                       "node.kubernetes.io/instance-type": "p4d.24xlarge"})
        spec["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name(i), "labels": labels,
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": node_ip(i)},
                                     {"type": "Hostname", "address": node_name(i)}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": CREATED,
                                       "lastTransitionTime": CREATED}],
                       "capacity": {"cpu": "16", "memory": "65536Mi", "pods": "110"},
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12",
                                    "containerRuntimeVersion": "containerd://1.7.24",
                                    "architecture": "amd64", "operatingSystem": "linux"}}}


def _app(d, nss):
    ns = nss[d % len(nss)]
    return {"name": "svc-%03d" % d, "ns": ns["metadata"]["name"],
            "team": ns["metadata"]["labels"]["team"], "tier": TIERS[d % len(TIERS)],
            "hash": _suffix("rs-%d" % d, 10), "sidecar": d % 2 == 0}


def pod(p, app, node_i, k):
    """Pod p of app, the k-th pod on node node_i."""
    rs = "%s-%s" % (app["name"], app["hash"])
    containers = [{"name": "main", "image": "registry.example/%s:1.4.2" % app["name"],
                   "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                   "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]
    annotations = {}
    if app["sidecar"]:
        containers.append({"name": "metrics", "image": "registry.example/exporter:0.9",
                           "ports": [{"name": "metrics", "containerPort": 9090,
                                      "protocol": "TCP"}]})
        annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
    ip = "10.%d.%d.%d" % (240 + node_i // 256, node_i % 256, 2 + k)
    meta = {"name": "%s-%s" % (rs, _suffix("pod-%d" % p, 5)), "namespace": app["ns"],
            "labels": {"app": app["name"], "tier": app["tier"], "team": app["team"],
                       "pod-template-hash": app["hash"]},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                 "uid": "00000000-0000-4000-8000-%012d" % (p // REPLICAS),
                                 "controller": True, "blockOwnerDeletion": True}]}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node_name(node_i), "containers": containers,
                     "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "hostIP": node_ip(node_i), "hostIPs": [{"ip": node_ip(node_i)}],
                       "startTime": CREATED, "qosClass": "Burstable",
                       "conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": CREATED}]}}


def policy(q, nss, apps):
    """Policy q: the first len(nss) are default denies, one per namespace."""
    if q < len(nss):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": nss[q]["metadata"]["name"]},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    app = apps[q % len(apps)]
    peers = [{"podSelector": {"matchExpressions": [
                 {"key": "tier", "operator": "In", "values": ["frontend", "backend"]}]},
              "namespaceSelector": {"matchLabels": {"team": app["team"]}}},
             {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.250.0.0/16"]}}]
    ports = [{"protocol": "TCP", "port": 8080}]
    if app["sidecar"]:
        ports.append({"protocol": "TCP", "port": "metrics"})
    spec = {"podSelector": {"matchLabels": {"app": app["name"]}},
            "ingress": [{"from": peers, "ports": ports}], "policyTypes": ["Ingress"]}
    if q % 3 == 0:
        spec["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                               "except": ["169.254.169.254/32"]}}],
                           "ports": [{"protocol": "UDP", "port": 53},
                                     {"protocol": "TCP", "port": 443}]}]
        spec["policyTypes"] = ["Ingress", "Egress"]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-%s-%d" % (app["name"], q), "namespace": app["ns"]},
            "spec": spec}


def cluster(pods, nodes, policies, namespace_count):
    """All objects in creation order (namespaces first)."""
    nss = namespaces(namespace_count)
    apps = [_app(d, nss) for d in range((pods + REPLICAS - 1) // REPLICAS)]
    items = list(nss)
    items += [node(i) for i in range(1, nodes + 1)]
    for p in range(pods):
        node_i = p % nodes + 1
        items.append(pod(p, apps[p // REPLICAS], node_i, p // nodes))
    items += [policy(q, nss, apps) for q in range(policies)]
    return items
