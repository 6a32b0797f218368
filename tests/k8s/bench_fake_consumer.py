#!/usr/bin/python3
"""A minimal list+watch client that keeps quasard's benchmark contract, for checking
tests/k8s/bench_k8s.py end to end without quasard (`--consumer fake`), and as a floor to
compare quasard with: one Python process, plain dicts, no indexes.

The contract (what bench_k8s.py reads from quasard): GET /readyz on --metrics answers 200 once
the initial lists are in; stderr gets one line `event=object-view-synced objects=N ms=T` then,
per watch event, `event=view-event kind=K type=T namespace=NS name=N rv=RV`.

usage: bench_fake_consumer.py --server URL --ca CA --cert C --key K --metrics HOST:PORT
"""

import argparse
import http.client
import http.server
import json
import ssl
import sys
import threading
import time
import urllib.parse

KINDS = [("Namespace", "/api/v1/namespaces"), ("Node", "/api/v1/nodes"),
         ("Pod", "/api/v1/pods"), ("NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies")]


class Client:
    def __init__(self, server, ctx):
        url = urllib.parse.urlsplit(server)
        self.host, self.port, self.ctx = url.hostname, url.port, ctx

    def conn(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def list(self, path):
        c = self.conn()
        try:
            c.request("GET", path, headers={"Accept": "application/json"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("GET %s: %d %s" % (path, r.status, body[:300]))
            return json.loads(body)
        finally:
            c.close()


def log(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def watch(client, kind, path, rv, view):
    c = client.conn(timeout=None)
    c.request("GET", path + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + rv)
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError("watch %s: %d" % (path, r.status))
    buf = b""
    while True:
        data = r.read1(65536)
        if not data:
            log("event=watch-ended kind=%s" % kind)
            return
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            ev = json.loads(line)
            if ev["type"] in ("BOOKMARK", "ERROR"):
                continue
            meta = ev["object"]["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if ev["type"] == "DELETED":
                view[kind].pop(key, None)
            else:
                view[kind][key] = ev["object"]
            log("event=view-event kind=%s type=%s namespace=%s name=%s rv=%s"
                % (kind, ev["type"], key[0], key[1], meta["resourceVersion"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for a in ("--server", "--ca", "--cert", "--key", "--metrics"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    client = Client(args.server, ctx)
    synced = threading.Event()

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path != "/readyz" or synced.is_set()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    host, port = args.metrics.rsplit(":", 1)
    health = http.server.ThreadingHTTPServer((host, int(port)), Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()

    t0 = time.monotonic()
    view, rvs = {}, {}
    for kind, path in KINDS:
        lst = client.list(path)
        view[kind] = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                      for o in lst["items"]}
        rvs[kind] = lst["metadata"]["resourceVersion"]
    log("event=object-view-synced objects=%d ms=%d"
        % (sum(len(v) for v in view.values()), (time.monotonic() - t0) * 1000))
    threads = [threading.Thread(target=watch, args=(client, k, p, rvs[k], view), daemon=True)
               for k, p in KINDS]
    for t in threads:
        t.start()
    synced.set()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
