"""HTTP request handling of the Kubernetes API server stand-in: authentication, routing of
/api and /apis paths, the verbs, discovery, and the /standin/ control endpoints for tests.
One thread per connection (ThreadingHTTPServer); the store does the locking.
"""

import base64
import http.server
import json
import ssl
import threading
import time
import traceback
import urllib.parse

import standin_patch
import standin_scale
import standin_select
import standin_store
import standin_watch
from standin_store import ApiError

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-quasar-standin",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
           "platform": "linux/amd64"}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "quasar-apiserver-standin"

    def setup(self):
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            self.rfile = self.wfile = None
            return
        self.request.settimeout(None)
        super().setup()

    def handle(self):
        if self.rfile is not None:
            super().handle()

    def finish(self):
        if self.rfile is not None:
            super().finish()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    # --- responses -------------------------------------------------------------------------

    def send_json(self, code, obj):
        self.send_raw(code, dumps(obj))

    def send_raw(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "the request body is not valid JSON: %s" % e)

    # --- entry -----------------------------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def user(self):
        cert = self.request.getpeercert()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
            return "client-cert"
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in self.server.tokens():
            return "token"
        return None

    def dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        try:
            if path in ("/healthz", "/livez", "/readyz") and method == "GET":
                return self.send_text(200, "ok")
            if self.user() is None:
                # Drain the body so the connection stays usable for the next request.
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                raise ApiError(401, "Unauthorized")
            if path.startswith("/standin/"):
                return self.control(method, path[len("/standin/"):])
            if self.server.latency:
                time.sleep(self.server.latency)
            if path == "/version" and method == "GET":
                return self.send_json(200, VERSION)
            self.route(method, [p for p in path.split("/") if p])
        except ApiError as e:
            self.send_json(e.code, e.body)
        except (OSError, ssl.SSLError):  # the client went away mid-answer
            self.close_connection = True
        except (standin_select.SelectorError, ValueError) as e:
            self.send_json(400, standin_store.status_body(400, str(e)))
        except Exception as e:  # a stand-in bug: say so in the answer and on stderr
            traceback.print_exc()
            self.send_json(500, standin_store.status_body(500, "stand-in error: %r" % e))

    # --- routing ---------------------------------------------------------------------------

    def route(self, method, parts):
        store = self.server.store
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{
                                            "clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "%s:%d" % self.server.server_address[:2]}]})
        if parts == ["apis"]:
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                self.group_body(g, vs) for g, vs in store.groups().items() if g]})
        if len(parts) == 2 and parts[0] == "apis":
            vs = store.groups().get(parts[1])
            if vs:
                return self.send_json(200, dict(self.group_body(parts[1], vs), kind="APIGroup",
                                                apiVersion="v1"))
            raise not_found()
        if parts and parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found()
        if not rest:
            resources = store.resources_of(group, version)
            if not resources:
                raise not_found()
            return self.send_json(200, self.resource_list(group, version, resources))
        ns = None
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))):
            ns, rest = rest[1], rest[2:]
        res = store.find(group, version, rest[0])
        if res is None or len(rest) > 3 or (ns is not None and not res.namespaced):
            raise not_found()
        if len(rest) > 1 and res.namespaced and ns is None:
            raise not_found()  # a namespaced object needs its namespace in the path
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and not (sub == "status" and res.status_subresource) and \
                not (sub == "scale" and res.scale_subresource):
            raise not_found()
        if name is None:
            return self.collection(method, res, version, ns)
        return self.item(method, res, version, ns, name, sub)

    def group_body(self, group, versions):
        vs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def resource_list(self, group, version, resources):
        out = []
        for r in resources:
            out.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": VERBS, "shortNames": r.short_names})
            if r.status_subresource:
                out.append({"name": r.plural + "/status", "singularName": "",
                            "namespaced": r.namespaced, "kind": r.kind,
                            "verbs": ["get", "patch", "update"]})
            if r.scale_subresource:
                out.append(standin_scale.discovery_entry(r))
        gv = "%s/%s" % (group, version) if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}

    # --- verbs -----------------------------------------------------------------------------

    def collection(self, method, res, version, ns):
        store = self.server.store
        if method == "GET":
            if self.query.get("watch") in ("true", "1"):
                return standin_watch.serve(self, res, ns)
            return self.list(res, version, ns)
        if method == "POST":
            if res.namespaced and ns is None:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            body = self.body_json()
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            self.check_kind(res, version, body)
            obj = store.create(res, version, ns, body)
            return self.send_json(201, obj)
        if method == "DELETE":
            match = self.matcher(res)
            with store.lock:
                items, _ = store.list(res, ns)
                deleted = [store.delete(res, o["metadata"].get("namespace"), o["metadata"]["name"])
                           for o in items if match(o)]
            return self.send_raw(200, self.list_body(res, version, deleted, str(store.rv), {}))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def item(self, method, res, version, ns, name, sub):
        store = self.server.store
        if sub == "scale":
            return standin_scale.serve(self, method, res, ns, name)
        if method == "GET":
            return self.send_json(200, store.get(res, ns, name))
        if method == "PUT":
            body = self.body_json()
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            self.check_kind(res, version, body)
            return self.send_json(200, store.update(res, ns, name, body, sub))
        if method == "PATCH":
            ctype = self.headers.get("Content-Type", "")
            patch = self.body_json()
            with store.lock:
                old = store.get(res, ns, name)
                try:
                    new = standin_patch.apply_patch(ctype, old, patch)
                except standin_patch.PatchError as e:
                    raise ApiError(422, str(e))
                if new is None:
                    raise ApiError(415, "the body of the request was in an unknown format - "
                                   "accepted media types include: application/json-patch+json, "
                                   "application/merge-patch+json, "
                                   "application/strategic-merge-patch+json")
                return self.send_json(200, store.update(res, ns, name, new, sub))
        if method == "DELETE" and sub is None:
            opts = self.body_json() or {}
            return self.send_json(200, store.delete(res, ns, name, opts.get("preconditions")))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def check_kind(self, res, version, body):
        if not isinstance(body.get("metadata", {}), dict):
            raise ApiError(400, "metadata must be a JSON object")
        if body.get("kind", res.kind) != res.kind or \
                body.get("apiVersion", res.api_version(version)) != res.api_version(version):
            raise ApiError(400, "the API version in the data (%s) does not match the expected "
                           "API version (%s) or kind %s" % (body.get("apiVersion"),
                                                            res.api_version(version), res.kind))

    def matcher(self, res):
        labels = standin_select.parse_labels(self.query.get("labelSelector"))
        fields = standin_select.parse_fields(self.query.get("fieldSelector"), res.group,
                                             res.plural, res.namespaced)
        return lambda o: labels(o["metadata"].get("labels") or {}) and fields(o)

    def list(self, res, version, ns):
        store, q = self.server.store, self.query
        match = self.matcher(res)
        rv_text, rv_match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        limit = int(q.get("limit") or 0)
        start = None
        at_rv = None
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"]))
                at_rv, start = int(token["rv"]), tuple(token["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "continue key is not valid")
            if at_rv < store.compacted_rv:
                raise ApiError(410, "The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without the "
                               "continue parameter.", "Expired")
        elif rv_text not in ("", "0"):
            try:
                rv = int(rv_text)
            except ValueError:
                raise ApiError(400, "invalid resource version: %s" % rv_text)
            if rv > store.rv:
                raise ApiError(504, "Too large resource version: %d, current: %d" % (rv, store.rv),
                               "Timeout", {"retryAfterSeconds": 1})
            if rv_match == "Exact":
                at_rv = rv
        items, list_rv = store.list(res, ns, at_rv)
        items = [o for o in items if match(o)]
        if start is not None:
            items = [o for o in items if ((o["metadata"].get("namespace") or ""),
                                          o["metadata"]["name"]) > start]
        meta = {}
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {"rv": list_rv, "start": [last.get("namespace") or "", last["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(dumps(token)).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        self.send_raw(200, self.list_body(res, version, items, str(list_rv), meta))

    def list_body(self, res, version, items, rv, meta):
        """The list as bytes. The real server leaves kind and apiVersion out of a built-in
        list's items (custom resources keep them)."""
        pick = 0 if res.crd is None else 1
        encoded = [self.server.store.wire(res, o)[pick] for o in items]
        head = dumps({"kind": res.kind + "List", "apiVersion": res.api_version(version),
                      "metadata": dict(meta, resourceVersion=rv)})
        return head[:-1] + b',"items":[' + b",".join(encoded) + b"]}"

    # --- test control (/standin/...) -------------------------------------------------------

    def control(self, method, what):
        store, server = self.server.store, self.server
        if method == "GET" and what == "stats":
            return self.send_json(200, store.stats())
        if method != "POST":
            raise ApiError(405, "control endpoints take POST (GET only for stats)")
        if what == "compact":
            rv = self.query.get("resourceVersion")
            done = store.compact(int(rv) if rv else None)
            return self.send_json(200, {"compactedResourceVersion": str(done)})
        if what == "drop-watches":
            return self.send_json(200, {"dropped": store.drop_watches()})
        if what == "bookmark":
            return self.send_json(200, {"watches": store.bookmark_now()})
        if what == "hold-watches":
            server.hold_watches = self.query.get("on", "1") in ("1", "true")
            return self.send_json(200, {"holdWatches": server.hold_watches})
        if what == "latency":
            server.latency = float(self.query.get("ms", "0")) / 1000.0
            return self.send_json(200, {"latencyMs": server.latency * 1000})
        if what == "down":
            seconds = float(self.query.get("seconds", "1"))
            self.send_json(200, {"downSeconds": seconds})
            self.close_connection = True
            threading.Thread(target=server.go_down, args=(seconds, self.request),
                             daemon=True).start()
            return None
        if what == "bulk":
            body = self.body_json() or {}
            t0 = time.monotonic()
            n = 0
            with store.lock:
                for item in body.get("items", []):
                    group, _, version = item.get("apiVersion", "").rpartition("/")
                    res = next((r for r in store.resources.values()
                                if r.group == group and r.kind == item.get("kind")), None)
                    if res is None:
                        raise ApiError(400, "bulk: no kind %s %s (after %d created)"
                                       % (item.get("apiVersion"), item.get("kind"), n))
                    store.create(res, version, item.get("metadata", {}).get("namespace"),
                                 item, keep_status=True, copy_body=False)
                    n += 1
                rv = store.rv
            return self.send_json(200, {"created": n, "resourceVersion": str(rv),
                                        "seconds": time.monotonic() - t0})
        raise not_found()


def not_found():
    return ApiError(404, "the server could not find the requested resource")
