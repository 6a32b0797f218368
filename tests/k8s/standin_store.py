"""The object store of the Kubernetes API server stand-in: kinds, objects, one global
resourceVersion, the event history that watches resume from, and the open watches.

Threading: every method takes the store's one lock; stored objects are never changed in place
(an update stores a new dict), so callers may serialise what a method returned after it has
released the lock. Errors are raised as ApiError carrying a Kubernetes Status.
"""

import bisect
import collections
import copy
import datetime
import json
import re
import threading
import uuid

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
           415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


def status_body(code, message, reason=None, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason or REASONS.get(code, ""), "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, message, reason, details)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Resource:
    """One served resource (a kind) of one API group."""

    def __init__(self, group, versions, plural, singular, kind, namespaced, short_names=(),
                 status_subresource=False, crd=None, scale_subresource=False):
        self.group, self.versions, self.plural = group, list(versions), plural
        self.singular, self.kind, self.namespaced = singular, kind, namespaced
        self.short_names, self.status_subresource, self.crd = list(short_names), status_subresource, crd
        # /scale (autoscaling/v1 Scale of spec.replicas, standin_scale.py): what kubectl scale uses.
        self.scale_subresource = scale_subresource

    @property
    def key(self):
        return (self.group, self.plural)

    def api_version(self, version):
        return "%s/%s" % (self.group, version) if self.group else version

    def qualified(self):
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural


BUILTIN = [
    Resource("", ["v1"], "namespaces", "namespace", "Namespace", False, ["ns"], True),
    Resource("", ["v1"], "nodes", "node", "Node", False, ["no"], True),
    Resource("", ["v1"], "pods", "pod", "Pod", True, ["po"], True),
    Resource("networking.k8s.io", ["v1"], "networkpolicies", "networkpolicy", "NetworkPolicy",
             True, ["netpol"]),
    # Stored only (no controllers): so `kubectl apply -f conf/k8s/quasar.yaml` creates the whole
    # install manifest (tests/k8s/manifest_test.py).
    Resource("", ["v1"], "serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
    Resource("", ["v1"], "configmaps", "configmap", "ConfigMap", True, ["cm"]),
    Resource("rbac.authorization.k8s.io", ["v1"], "clusterroles", "clusterrole", "ClusterRole",
             False),
    Resource("rbac.authorization.k8s.io", ["v1"], "clusterrolebindings", "clusterrolebinding",
             "ClusterRoleBinding", False),
    Resource("apps", ["v1"], "daemonsets", "daemonset", "DaemonSet", True, ["ds"], True),
    # The owners of pods (quasar's workloads for floating IPs); stored only, no controllers.
    Resource("apps", ["v1"], "statefulsets", "statefulset", "StatefulSet", True, ["sts"], True,
             scale_subresource=True),
    Resource("apps", ["v1"], "deployments", "deployment", "Deployment", True, ["deploy"], True,
             scale_subresource=True),
    Resource("apps", ["v1"], "replicasets", "replicaset", "ReplicaSet", True, ["rs"], True,
             scale_subresource=True),
    Resource("apiextensions.k8s.io", ["v1"], "customresourcedefinitions",
             "customresourcedefinition", "CustomResourceDefinition", False, ["crd", "crds"], True),
]
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]


class Event:
    __slots__ = ("rv", "type", "key", "ns", "name", "obj", "prev", "line")

    def __init__(self, rv, type_, key, ns, name, obj, prev):
        self.rv, self.type, self.key, self.ns, self.name = rv, type_, key, ns, name
        self.obj, self.prev, self.line = obj, prev, None


class Watcher:
    """One open watch: the store pushes events (and bookmark/drop commands) into its queue."""

    def __init__(self, key, bookmarks, request=""):
        self.key, self.bookmarks, self.request = key, bookmarks, request
        self.cond = threading.Condition()
        self.queue = collections.deque()
        self.dropped = False

    def push(self, item):
        with self.cond:
            self.queue.append(item)
            self.cond.notify()

    def drop(self):
        with self.cond:
            self.dropped = True
            self.cond.notify()

    def take(self, timeout):
        """Returns the queued items, waiting up to timeout seconds for the first one."""
        with self.cond:
            if not self.queue and not self.dropped and timeout > 0:
                self.cond.wait(timeout)
            items = list(self.queue)
            self.queue.clear()
            return items


class Store:
    def __init__(self, history_limit=200000):
        self.lock = threading.RLock()
        self.rv = 0
        self.compacted_rv = 0  # a watch or list at an RV below this gets 410 Expired
        self.history = []  # Events, ascending rv, all events with rv > compacted_rv
        self.history_limit = history_limit
        self.resources = {}  # (group, plural) -> Resource
        self.objects = {}  # (group, plural) -> {(ns, name): obj}
        self.watchers = set()
        self._wire = {}  # id(obj) -> (obj, item bytes, full bytes), for current objects only
        for r in BUILTIN:
            self._register(r)
        for ns in DEFAULT_NAMESPACES:
            self.create(self.resources[("", "namespaces")], "v1", None,
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # --- kinds -----------------------------------------------------------------------------

    def _register(self, res):
        self.resources[res.key] = res
        self.objects.setdefault(res.key, {})

    def groups(self):
        with self.lock:
            out = collections.OrderedDict()
            for r in self.resources.values():
                out.setdefault(r.group, [])
                for v in r.versions:
                    if v not in out[r.group]:
                        out[r.group].append(v)
            return out

    def resources_of(self, group, version):
        with self.lock:
            return [r for r in self.resources.values() if r.group == group and version in r.versions]

    def find(self, group, version, plural):
        with self.lock:
            r = self.resources.get((group, plural))
            return r if r and version in r.versions else None

    def _crd_resource(self, crd):
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        group, plural = spec.get("group", ""), names.get("plural", "")
        versions = [v.get("name") for v in spec.get("versions", []) if v.get("served", True)]
        if not group or not plural or not names.get("kind") or not versions:
            raise ApiError(422, "CustomResourceDefinition.apiextensions.k8s.io \"%s\" is invalid: "
                           "spec.group, spec.names.plural, spec.names.kind and spec.versions are "
                           "required" % crd["metadata"].get("name", ""))
        if crd["metadata"].get("name") != "%s.%s" % (plural, group):
            raise ApiError(422, "CustomResourceDefinition.apiextensions.k8s.io \"%s\" is invalid: "
                           "metadata.name: Invalid value: \"%s\": must be spec.names.plural+\".\"+"
                           "spec.group" % (crd["metadata"].get("name"), crd["metadata"].get("name")))
        status = any(v.get("subresources", {}).get("status") is not None
                     for v in spec.get("versions", []))
        return Resource(group, versions, plural, names.get("singular", plural.lower()),
                        names["kind"], spec.get("scope", "Namespaced") == "Namespaced",
                        names.get("shortNames", []), status, crd["metadata"]["name"])

    # --- writes ----------------------------------------------------------------------------

    def _commit(self, res, type_, ns, name, obj, prev):
        """Stores obj (None deletes), records the event, wakes the watches. Lock held."""
        self.rv += 1
        rv = str(self.rv)
        cur = self.objects[res.key].get((ns, name))
        if cur is not None:
            self._wire.pop(id(cur), None)
        if obj is None:
            del self.objects[res.key][(ns, name)]
            obj = dict(prev, metadata=dict(prev["metadata"], resourceVersion=rv))
        else:
            obj["metadata"]["resourceVersion"] = rv
            self.objects[res.key][(ns, name)] = obj
        ev = Event(self.rv, type_, res.key, ns, name, obj, prev)
        self.history.append(ev)
        if len(self.history) > self.history_limit * 1.1:
            cut = len(self.history) - self.history_limit
            self.compacted_rv = self.history[cut - 1].rv
            del self.history[:cut]
        for w in self.watchers:
            if w.key == res.key:
                w.push(ev)
        return obj

    def _check_name(self, res, obj):
        name = obj["metadata"].get("name", "")
        pattern = _LABEL if res.key == ("", "namespaces") else _SUBDOMAIN
        if not name or len(name) > 253 or not pattern.match(name):
            raise ApiError(422, '%s "%s" is invalid: metadata.name: Invalid value: "%s": a '
                           'lowercase RFC 1123 name is required' % (res.kind, name, name),
                           details={"name": name, "kind": res.plural})

    def _need_namespace(self, res, ns):
        if res.namespaced and (ns is None or (None, ns) not in self.objects[("", "namespaces")]):
            raise ApiError(404, 'namespaces "%s" not found' % ns,
                           details={"name": ns, "kind": "namespaces"})

    def create(self, res, version, ns, body, keep_status=False, copy_body=True):
        """POST. Sets uid, resourceVersion, creationTimestamp, generation; returns the object.
        keep_status and copy_body=False are the bulk loader's: take status and body as given."""
        with self.lock:
            obj = copy.deepcopy(body) if copy_body else body
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            self._check_name(res, obj)
            if res.namespaced:
                if meta.get("namespace") not in (None, "", ns):
                    raise ApiError(400, "the namespace of the provided object does not match "
                                   "the namespace sent on the request")
                meta["namespace"] = ns
                self._need_namespace(res, ns)
            else:
                meta.pop("namespace", None)
                ns = None
            name = meta["name"]
            if (ns, name) in self.objects[res.key]:
                raise ApiError(409, '%s "%s" already exists' % (res.qualified(), name),
                               "AlreadyExists", {"name": name, "group": res.group,
                                                 "kind": res.plural})
            obj["apiVersion"], obj["kind"] = res.api_version(version), res.kind
            for k in ("resourceVersion", "deletionTimestamp", "selfLink"):
                meta.pop(k, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            if res.key == ("", "namespaces"):
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj["status"] = {"phase": "Active"}
            elif res.key == ("", "pods") and not keep_status:
                obj["status"] = {"phase": "Pending"}  # the real server ignores a posted status
            elif res.key == CRD_KEY:
                cr = self._crd_resource(obj)
                if cr.key in self.resources:
                    raise ApiError(409, "the API group/resource %s is already served" % cr.qualified())
                names = dict(obj["spec"]["names"])
                names.setdefault("singular", cr.singular)
                names.setdefault("listKind", cr.kind + "List")
                obj["status"] = {"acceptedNames": names, "storedVersions": cr.versions[:1],
                                 "conditions": [
                                     {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                                      "message": "no conflicts found", "lastTransitionTime": meta["creationTimestamp"]},
                                     {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                      "message": "the initial names have been accepted",
                                      "lastTransitionTime": meta["creationTimestamp"]}]}
                self._register(cr)
            elif res.crd is not None and res.status_subresource and not keep_status:
                obj.pop("status", None)  # as the real server does for custom resources
            if res.scale_subresource and isinstance(obj.get("spec", {}), dict):
                obj.setdefault("spec", {}).setdefault("replicas", 1)  # the server's default
            return self._commit(res, "ADDED", ns, name, obj, None)

    def get(self, res, ns, name):
        with self.lock:
            obj = self.objects[res.key].get((ns if res.namespaced else None, name))
            if obj is None:
                raise ApiError(404, '%s "%s" not found' % (res.qualified(), name),
                               details={"name": name, "group": res.group, "kind": res.plural})
            return obj

    def update(self, res, ns, name, body, subresource=None, precondition_rv=None):
        """PUT (also the end of PATCH). subresource "status" takes only .status from body."""
        with self.lock:
            ns = ns if res.namespaced else None
            old = self.get(res, ns, name)
            new = copy.deepcopy(body)
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise ApiError(400, "the name of the object (%s) does not match the name on the "
                               "URL (%s)" % (meta.get("name"), name))
            want_rv = meta.get("resourceVersion") or precondition_rv
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been '
                               'modified; please apply your changes to the latest version and try '
                               'again' % (res.qualified(), name), "Conflict",
                               {"name": name, "group": res.group, "kind": res.plural})
            if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, 'Precondition failed: UID in precondition: %s, UID in object '
                               'meta: %s' % (meta["uid"], old["metadata"]["uid"]), "Conflict")
            if subresource == "status":
                new = dict(old, status=new.get("status", {}))
                new["metadata"] = dict(old["metadata"])
            else:
                for k in ("uid", "creationTimestamp", "generation", "namespace", "name"):
                    if k in old["metadata"]:
                        meta[k] = old["metadata"][k]
                    else:
                        meta.pop(k, None)
                new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
                if res.status_subresource:
                    if "status" in old:
                        new["status"] = old["status"]
                    else:
                        new.pop("status", None)
                spec_old = {k: v for k, v in old.items() if k not in ("metadata", "status")}
                spec_new = {k: v for k, v in new.items() if k not in ("metadata", "status")}
                if spec_old != spec_new:
                    meta["generation"] = old["metadata"].get("generation", 1) + 1
                if res.key == CRD_KEY:
                    cr = self._crd_resource(new)
                    if cr.key != self.resources_for_crd(name).key:
                        raise ApiError(422, 'CustomResourceDefinition.apiextensions.k8s.io "%s" is '
                                       'invalid: spec.group and spec.names.plural are immutable'
                                       % name)
                    self.resources[cr.key] = cr
            return self._commit(res, "MODIFIED", ns, name, new, old)

    def resources_for_crd(self, crd_name):
        for r in self.resources.values():
            if r.crd == crd_name:
                return r
        raise ApiError(500, "no resource for CRD %s" % crd_name)

    def delete(self, res, ns, name, preconditions=None):
        """DELETE, immediate (no graceful period, no finalizers); returns the deleted object."""
        with self.lock:
            ns = ns if res.namespaced else None
            old = self.get(res, ns, name)
            pre = preconditions or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been '
                               'modified; please apply your changes to the latest version and try '
                               'again' % (res.qualified(), name), "Conflict")
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, "Precondition failed: UID in precondition: %s, UID in object "
                               "meta: %s" % (pre["uid"], old["metadata"]["uid"]), "Conflict")
            if res.key == ("", "namespaces"):
                for r in list(self.resources.values()):
                    if r.namespaced:
                        for (ons, oname) in [k for k in self.objects[r.key] if k[0] == name]:
                            self._delete_one(r, ons, oname)
            if res.key == CRD_KEY:
                cr = self.resources_for_crd(name)
                for (ons, oname) in list(self.objects[cr.key]):
                    self._delete_one(cr, ons, oname)
                del self.resources[cr.key]
                for w in list(self.watchers):
                    if w.key == cr.key:
                        w.drop()
            return self._delete_one(res, ns, name)

    def _delete_one(self, res, ns, name):
        old = self.objects[res.key][(ns, name)]
        old = dict(old, metadata=dict(old["metadata"], deletionTimestamp=now_rfc3339(),
                                      deletionGracePeriodSeconds=0))
        return self._commit(res, "DELETED", ns, name, None, old)

    def wire(self, res, obj):
        """(JSON without kind and apiVersion, full JSON) of an object, as bytes. Cached while
        obj is the stored version: a list of 10,000 pods is then a join, not an encoding."""
        hit = self._wire.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1], hit[2]
        item = json.dumps({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
                          separators=(",", ":")).encode()
        full = ('{"apiVersion":%s,"kind":%s,' % (json.dumps(obj["apiVersion"]),
                                                 json.dumps(obj["kind"]))).encode() + item[1:]
        meta = obj["metadata"]
        if self.objects.get(res.key, {}).get((meta.get("namespace"), meta["name"])) is obj:
            self._wire[id(obj)] = (obj, item, full)
        return item, full

    # --- reads -----------------------------------------------------------------------------

    def list(self, res, ns, at_rv=None):
        """Returns (objects, rv): the objects (all namespaces if ns is None) at at_rv, or now.
        An at_rv older than the kept history raises 410 Expired."""
        with self.lock:
            items = dict(self.objects[res.key])
            rv = self.rv
            if at_rv is not None and at_rv < rv:
                if at_rv < self.compacted_rv:
                    raise ApiError(410, "The resourceVersion for the provided list is too old.",
                                   "Expired")
                start = bisect.bisect_right(self.history, at_rv, key=lambda e: e.rv)
                for ev in reversed(self.history[start:]):
                    if ev.key != res.key:
                        continue
                    if ev.type == "ADDED":
                        items.pop((ev.ns, ev.name), None)
                    else:
                        items[(ev.ns, ev.name)] = ev.prev
                rv = at_rv
        if ns is not None and res.namespaced:
            items = {k: v for k, v in items.items() if k[0] == ns}
        return [items[k] for k in sorted(items, key=lambda k: (k[0] or "", k[1]))], rv

    def start_watch(self, res, from_rv, bookmarks, request=""):
        """Registers a watch on res. from_rv None: the current objects come first as ADDED
        events. Returns (watcher, initial events, start rv); 410 Expired if from_rv is compacted."""
        with self.lock:
            w = Watcher(res.key, bookmarks, request)
            if from_rv is None:
                initial = [Event(int(o["metadata"]["resourceVersion"]), "ADDED", res.key,
                                 k[0], k[1], o, None) for k, o in sorted(
                                     self.objects[res.key].items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))]
                self.watchers.add(w)
                return w, initial, self.rv
            if from_rv < self.compacted_rv:
                raise ApiError(410, "too old resource version: %d (%d)" % (from_rv, self.compacted_rv),
                               "Expired")
            start = bisect.bisect_right(self.history, from_rv, key=lambda e: e.rv)
            initial = [e for e in self.history[start:] if e.key == res.key]
            self.watchers.add(w)
            return w, initial, max(from_rv, self.rv)

    def stop_watch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def idle_rv(self, w):
        """The store's rv if w has nothing queued (so a bookmark may carry it), else None."""
        with self.lock:
            with w.cond:
                return None if w.queue else self.rv

    # --- test control ----------------------------------------------------------------------

    def compact(self, upto=None):
        with self.lock:
            upto = self.rv if upto is None else min(upto, self.rv)
            start = bisect.bisect_right(self.history, upto, key=lambda e: e.rv)
            del self.history[:start]
            self.compacted_rv = max(self.compacted_rv, upto)
            return self.compacted_rv

    def drop_watches(self):
        with self.lock:
            ws = list(self.watchers)
        for w in ws:
            w.drop()
        return len(ws)

    def bookmark_now(self):
        with self.lock:
            ws = [w for w in self.watchers if w.bookmarks]
        for w in ws:
            w.push("bookmark")
        return len(ws)

    def stats(self):
        with self.lock:
            return {"resourceVersion": str(self.rv), "compactedResourceVersion": str(self.compacted_rv),
                    "watches": len(self.watchers), "history": len(self.history),
                    "watchRequests": sorted(w.request for w in self.watchers),
                    "objects": {r.qualified(): len(self.objects[k]) for k, r in self.resources.items()}}
