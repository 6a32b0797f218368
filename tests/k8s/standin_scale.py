"""The scale subresource of the stand-in's apps/v1 kinds (Deployment, ReplicaSet, StatefulSet):
GET, PUT and PATCH of /<plural>/<name>/scale as an autoscaling/v1 Scale whose spec.replicas is
the object's. `kubectl scale` finds it in discovery (<plural>/scale, group autoscaling, version
v1, kind Scale) and sends a merge patch {"spec":{"replicas":N}} (a GET then a PUT with
--current-replicas or --resource-version). A change of replicas is an update of the object: a
MODIFIED event with the new spec.replicas and a new resourceVersion.
"""

import json

import standin_patch
from standin_store import ApiError


def discovery_entry(res):
    return {"name": res.plural + "/scale", "singularName": "", "namespaced": res.namespaced,
            "group": "autoscaling", "version": "v1", "kind": "Scale",
            "verbs": ["get", "patch", "update"]}


def scale_of(obj):
    """The object's Scale: spec.replicas (1 when unset), status.replicas, status.selector."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(labels.items()))}}


def _replicas(name, scale):
    spec = scale.get("spec") if isinstance(scale, dict) else None
    n = spec.get("replicas") if isinstance(spec, dict) else None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > 2147483647:
        raise ApiError(422, 'Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: '
                       '%s: must be an integer in [0, 2147483647]' % (name, json.dumps(n)))
    return n


def serve(handler, method, res, ns, name):
    store = handler.server.store
    with store.lock:
        old = store.get(res, ns if res.namespaced else None, name)
        current = scale_of(old)
        if method == "GET":
            return handler.send_json(200, current)
        if method == "PUT":
            scale = handler.body_json()
            if not isinstance(scale, dict):
                raise ApiError(400, "the request body must be a JSON object")
        elif method == "PATCH":
            try:
                scale = standin_patch.apply_patch(handler.headers.get("Content-Type", ""), current,
                                                  handler.body_json())
            except standin_patch.PatchError as e:
                raise ApiError(422, str(e))
            if scale is None:
                raise ApiError(415, "the body of the request was in an unknown format")
        else:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        replicas = _replicas(name, scale)
        # A resourceVersion in the Scale is a precondition on the object (--resource-version).
        want_rv = (scale.get("metadata") or {}).get("resourceVersion")
        new = dict(old, spec=dict(old.get("spec") or {}, replicas=replicas))
        new["metadata"] = dict(old["metadata"], resourceVersion=want_rv or
                               old["metadata"]["resourceVersion"])
        updated = store.update(res, ns, name, new)
        return handler.send_json(200, scale_of(updated))
