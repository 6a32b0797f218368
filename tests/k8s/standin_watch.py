"""Watch streams of the Kubernetes API server stand-in: newline-delimited JSON events
({"type": ..., "object": ...}) in HTTP chunks, as the real server sends them.

A watch starts after ?resourceVersion= from the store's history (410 Expired as an ERROR event
if that is compacted), or with the current objects as ADDED events when resourceVersion is
"" or "0". Selectors are applied per event the way the real watch cache does: an object that
starts matching arrives as ADDED, one that stops matching as DELETED. With
allowWatchBookmarks=true a BOOKMARK carries the newest resourceVersion every
--bookmark-interval seconds and on /standin/bookmark. timeoutSeconds ends the stream cleanly;
/standin/drop-watches ends it abruptly (no final chunk), like a broken connection.
"""

import json
import select
import socket
import time

from standin_store import ApiError

_SEP = (",", ":")


def _line(type_, obj):
    return json.dumps({"type": type_, "object": obj}, separators=_SEP).encode() + b"\n"


class _Stream:
    def __init__(self, handler):
        self.h = handler

    def start(self):
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache, private")
        h.end_headers()

    def write(self, data):
        if data:
            self.h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end(self):
        self.h.wfile.write(b"0\r\n\r\n")


def _wire_line(store, res, type_, obj):
    return b'{"type":"%s","object":%s}\n' % (type_.encode(), store.wire(res, obj)[1])


def _event_line(store, res, ev, match):
    cur = ev.type != "DELETED" and match(ev.obj)
    old = match(ev.prev) if ev.prev is not None else False
    if cur and not old:
        type_ = "ADDED"
    elif cur and old:
        type_ = "MODIFIED"
    elif old:
        type_ = "DELETED"
    else:
        return None
    if type_ == ev.type:
        if ev.line is None:  # shared by every watch that sees the event unchanged
            ev.line = _wire_line(store, res, ev.type, ev.obj)
        return ev.line
    if type_ == "DELETED":
        prev = dict(ev.prev, metadata=dict(ev.prev["metadata"], resourceVersion=str(ev.rv)))
        return _line("DELETED", prev)
    return _wire_line(store, res, type_, ev.obj)


def _client_gone(sock):
    """True once the client has closed its end (EOF or TLS close_notify): a watch client never
    sends anything while the stream is open."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def serve(handler, res, ns):
    q = handler.query
    store, server = handler.server.store, handler.server
    sel = handler.matcher(res)
    match = (lambda o: sel(o)) if ns is None else \
        (lambda o: o["metadata"].get("namespace") == ns and sel(o))
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    timeout = float(q.get("timeoutSeconds") or 0)
    rv_text = q.get("resourceVersion", "")
    initial_events = q.get("sendInitialEvents")
    try:
        from_rv = None if rv_text in ("", "0") else int(rv_text)
    except ValueError:
        raise ApiError(400, "invalid resource version: %s" % rv_text)
    if initial_events == "true":
        from_rv = None
    stream = _Stream(handler)
    try:
        w, initial, start_rv = store.start_watch(res, from_rv, bookmarks, handler.path)
    except ApiError as e:
        stream.start()
        stream.write(_line("ERROR", e.body))
        stream.end()
        return
    bookmark_kind = {"kind": res.kind, "apiVersion": res.api_version(res.versions[0])}
    if res.key == ("", "pods"):
        # The real server's bookmark is an empty object of the kind, zero values included.
        bookmark_kind.update(spec={"containers": None}, status={})
    try:
        stream.start()
        last_rv = start_rv  # every event up to it is in initial or queued behind it
        if from_rv is not None:
            out = [line for line in (_event_line(store, res, ev, match) for ev in initial) if line]
        elif initial_events == "false":
            out = []
        else:
            out = [_wire_line(store, res, "ADDED", ev.obj) for ev in initial if match(ev.obj)]
        if initial_events == "true":
            out.append(_line("BOOKMARK", dict(bookmark_kind, metadata={
                "resourceVersion": str(start_rv), "creationTimestamp": None,
                "annotations": {"k8s.io/initial-events-end": "true"}})))
        stream.write(b"".join(out))
        deadline = time.monotonic() + timeout if timeout else None
        next_bookmark = time.monotonic() + server.bookmark_interval
        held = []  # /standin/hold-watches: events taken but not sent (a watch that lags behind)
        while True:
            if server.hold_watches:
                held.extend(w.take(0.02))
                if _client_gone(handler.request):
                    return
                continue
            now = time.monotonic()
            wait = 1.0
            if deadline is not None:
                wait = min(wait, deadline - now)
            if bookmarks:
                wait = min(wait, next_bookmark - now)
            items = held + w.take(max(wait, 0))
            held = []
            if server.hold_watches:
                held = items
                continue
            if _client_gone(handler.request):
                return
            if w.dropped:
                # An abrupt end: no final chunk, the connection is cut.
                handler.close_connection = True
                try:
                    socket.socket.shutdown(handler.request, socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            forced = False
            out = []
            for it in items:
                if it == "bookmark":
                    forced = True
                    continue
                last_rv = max(last_rv, it.rv)
                line = _event_line(store, res, it, match)
                if line:
                    out.append(line)
            stream.write(b"".join(out))
            now = time.monotonic()
            if bookmarks and (forced or now >= next_bookmark):
                rv = store.idle_rv(w) or last_rv
                last_rv = max(last_rv, rv)
                stream.write(_line("BOOKMARK", dict(bookmark_kind,
                                                    metadata={"resourceVersion": str(last_rv), "creationTimestamp": None})))
                next_bookmark = now + server.bookmark_interval
            if deadline is not None and now >= deadline:
                stream.end()
                return
    finally:
        store.stop_watch(w)
