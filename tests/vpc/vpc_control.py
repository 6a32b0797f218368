"""vpc-sim's test controls: call counters, injected throttling and latency, holds (a call of an
action is held open before or after it takes effect until the test releases it, so a test can
kill the caller in the middle), and the JSON routes of the control socket (docs/vpc-sim.md)."""

import collections
import itertools
import threading
import time
import urllib.parse


class Hold:
    def __init__(self, hold_id, action, phase):
        self.id, self.action, self.phase = hold_id, action, phase
        self.state = "armed"  # -> held -> released; armed -> released (cancelled)
        self.call = None

    def to_json(self):
        return {"id": self.id, "action": self.action, "phase": self.phase, "state": self.state,
                "call": self.call}


class Control:
    """Thread-safe. Request threads call arrived/delay/throttled/failed/hold; control routes
    read and change it."""

    def __init__(self):
        self.cv = threading.Condition()
        self.stopping = False
        self.ids = itertools.count(1)
        self.reset()
        self.rules = []  # {"action": "" (any) or A, "remaining": N or None (every call)}
        self.latency = {}  # action or "*" -> seconds
        self.holds = {}

    def reset(self):
        with self.cv:
            self.calls = collections.Counter()
            self.by_caller = collections.defaultdict(collections.Counter)
            self.throttled_calls = collections.Counter()
            self.errors = collections.defaultdict(collections.Counter)
            self.imds = collections.Counter()

    # --- request side ---

    def arrived(self, action, caller):
        with self.cv:
            self.calls[action] += 1
            self.by_caller[caller][action] += 1
            self.cv.notify_all()

    def imds_arrived(self, caller):
        with self.cv:
            self.imds[caller] += 1

    def delay(self, action):
        with self.cv:
            seconds = self.latency.get(action, self.latency.get("*", 0))
        if seconds > 0:
            time.sleep(seconds)

    def throttled(self, action):
        with self.cv:
            for rule in self.rules:
                if rule["action"] not in ("", action):
                    continue
                if rule["remaining"] is not None:
                    rule["remaining"] -= 1
                    if rule["remaining"] <= 0:
                        self.rules.remove(rule)
                self.throttled_calls[action] += 1
                return True
        return False

    def failed(self, action, code):
        with self.cv:
            self.errors[action][code] += 1

    def hold(self, action, phase, call):
        """Blocks while an armed hold of (action, phase) takes this call, until it is
        released (or vpc-sim stops)."""
        with self.cv:
            h = next((h for h in self.holds.values()
                      if h.state == "armed" and h.action == action and h.phase == phase), None)
            if h is None:
                return
            h.state = "held"
            h.call = {"action": action, "caller": call["caller"],
                      "params": {k: v for k, v in call["params"].items()}}
            self.cv.notify_all()
            self.cv.wait_for(lambda: h.state == "released" or self.stopping)

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    # --- control side ---

    def counts(self):
        with self.cv:
            return {"calls": dict(self.calls),
                    "byCaller": {c: dict(v) for c, v in self.by_caller.items()},
                    "throttled": dict(self.throttled_calls),
                    "errors": {a: dict(v) for a, v in self.errors.items()},
                    "imds": dict(self.imds)}

    def wait_calls(self, action, count, timeout):
        with self.cv:
            self.cv.wait_for(lambda: self.calls[action] >= count or self.stopping, timeout)
            return self.calls[action]

    def add_hold(self, action, phase):
        with self.cv:
            h = Hold("h%d" % next(self.ids), action, phase)
            self.holds[h.id] = h
            return h

    def wait_held(self, hold_id, timeout):
        with self.cv:
            h = self.holds.get(hold_id)
            if h is not None:
                self.cv.wait_for(lambda: h.state != "armed" or self.stopping, timeout)
            return h

    def release(self, hold_id):
        with self.cv:
            h = self.holds.get(hold_id)
            if h is not None:
                h.state = "released"
                self.cv.notify_all()
            return h


def route(method, path, body, control, vpc, net):
    """One control request: returns (HTTP status, JSON-able object)."""
    url = urllib.parse.urlsplit(path)
    q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
    parts = [p for p in url.path.split("/") if p]
    timeout = float(q.get("timeout", "30"))
    shape = ["ID" if i == 1 and parts[0] == "holds" else p for i, p in enumerate(parts)]
    key = (method, "/".join(shape))
    if key == ("GET", "healthz"):
        return 200, {"ok": True}
    if key == ("GET", "state"):
        return 200, vpc.to_json()
    if key == ("GET", "calls"):
        return 200, control.counts()
    if key == ("POST", "calls/reset"):
        control.reset()
        return 200, control.counts()
    if key == ("GET", "wait"):
        want = int(q.get("count", "1"))
        have = control.wait_calls(q.get("action", ""), want, timeout)
        return (200 if have >= want else 408), {"action": q.get("action", ""), "count": have}
    if key == ("POST", "throttle"):
        rule = {"action": body.get("action", ""),
                "remaining": None if body.get("always") else int(body.get("count", 1))}
        with control.cv:
            control.rules.append(rule)
            return 200, {"rules": list(control.rules)}
    if key in (("DELETE", "throttle"), ("POST", "throttle/clear")):
        with control.cv:
            control.rules.clear()
        return 200, {"rules": []}
    if key == ("POST", "latency"):
        with control.cv:
            action, ms = body.get("action", "*"), float(body.get("ms", 0))
            if ms > 0:
                control.latency[action] = ms / 1000.0
            else:
                control.latency.pop(action, None)
            return 200, {"latencyMs": {a: s * 1000 for a, s in control.latency.items()}}
    if key == ("POST", "holds"):
        if body.get("phase", "before") not in ("before", "after") or not body.get("action"):
            return 400, {"error": "a hold needs an action and phase before|after"}
        return 200, control.add_hold(body["action"], body.get("phase", "before")).to_json()
    if key == ("GET", "holds/ID"):
        h = control.wait_held(parts[1], timeout)
        if h is None:
            return 404, {"error": "no hold " + parts[1]}
        return (200 if h.state != "armed" else 408), h.to_json()
    if key == ("POST", "holds/ID/release"):
        h = control.release(parts[1])
        return (200, h.to_json()) if h else (404, {"error": "no hold " + parts[1]})
    if key == ("GET", "counters"):
        return 200, interface_counters(vpc, net)
    return 404, {"error": "no route %s /%s" % key}


def interface_counters(vpc, net):
    links = net.link_counters()
    out = {}
    with vpc.lock:
        for e in vpc.interfaces.values():
            if e.router_link in links:
                out[e.id] = dict(links[e.router_link], routerLink=e.router_link,
                                 instanceLink=e.instance_link,
                                 instance=e.attachment.instance_id if e.attachment else "")
    return {"interfaces": out, "links": links, "rpFilterDrops": net.rp_filter_drops()}
