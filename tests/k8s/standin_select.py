"""Label and field selectors of the Kubernetes API, for the API server stand-in.

Parses the query-string forms the real API server accepts (labels.Parse and
fields.ParseSelector in k8s.io/apimachinery) into predicates over JSON objects.
A parse error raises SelectorError, which the server answers with 400 BadRequest.
"""

import re

_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Field labels the real API server supports per resource (besides metadata.name and, for
# namespaced kinds, metadata.namespace): pkg/registry/*/strategy.go's *ToSelectableFields.
FIELDS = {
    ("", "pods"): {
        "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
        "spec.restartPolicy": lambda o: o.get("spec", {}).get("restartPolicy", ""),
        "spec.schedulerName": lambda o: o.get("spec", {}).get("schedulerName", ""),
        "spec.serviceAccountName": lambda o: o.get("spec", {}).get("serviceAccountName", ""),
        "spec.hostNetwork": lambda o: str(bool(o.get("spec", {}).get("hostNetwork", False))).lower(),
        "status.phase": lambda o: o.get("status", {}).get("phase", ""),
        "status.podIP": lambda o: o.get("status", {}).get("podIP", ""),
        "status.nominatedNodeName": lambda o: o.get("status", {}).get("nominatedNodeName", ""),
    },
    ("", "nodes"): {
        "spec.unschedulable": lambda o: str(bool(o.get("spec", {}).get("unschedulable", False))).lower(),
    },
    ("", "namespaces"): {
        "status.phase": lambda o: o.get("status", {}).get("phase", ""),
    },
}


class SelectorError(ValueError):
    pass


def _split_top(text):
    """Splits on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError("unbalanced parentheses in selector %r" % text)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise SelectorError("unbalanced parentheses in selector %r" % text)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _check_key(key):
    if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise SelectorError("invalid label key %r" % key)


def _check_value(value):
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError("invalid label value: %r" % value)


_SET_REQ = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_CMP_REQ = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$")


def parse_labels(text):
    """Returns a predicate over a labels dict; an empty selector matches everything."""
    text = (text or "").strip()
    if not text:
        return lambda labels: True
    reqs = []
    for part in _split_top(text):
        if not part:
            raise SelectorError("empty requirement in label selector %r" % text)
        m = _SET_REQ.match(part)
        if m:
            key, op = m.group(1), m.group(2)
            values = {v.strip() for v in m.group(3).split(",")}
            _check_key(key)
            for v in values:
                _check_value(v)
            if op == "in":
                reqs.append(lambda l, k=key, vs=values: k in l and l[k] in vs)
            else:
                reqs.append(lambda l, k=key, vs=values: k not in l or l[k] not in vs)
            continue
        m = _CMP_REQ.match(part)
        if m:
            key, op, value = m.group(1), m.group(2), m.group(3).strip()
            _check_key(key)
            _check_value(value)
            if op == "!=":
                reqs.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                reqs.append(lambda l, k=key, v=value: l.get(k) == v)
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key)
            reqs.append(lambda l, k=key: k not in l)
            continue
        _check_key(part)
        reqs.append(lambda l, k=part: k in l)
    return lambda labels: all(r(labels) for r in reqs)


def parse_fields(text, group, plural, namespaced):
    """Returns a predicate over an object; unsupported field labels raise SelectorError."""
    text = (text or "").strip()
    if not text:
        return lambda obj: True
    getters = {"metadata.name": lambda o: o["metadata"].get("name", "")}
    if namespaced:
        getters["metadata.namespace"] = lambda o: o["metadata"].get("namespace", "")
    getters.update(FIELDS.get((group, plural), {}))
    reqs = []
    for part in text.split(","):
        m = _CMP_REQ.match(part.strip())
        if not m:
            raise SelectorError("invalid field selector: %r" % part)
        field, op, value = m.group(1), m.group(2), m.group(3).strip()
        if field not in getters:
            raise SelectorError('field label not supported: %s' % field)
        get = getters[field]
        if op == "!=":
            reqs.append(lambda o, g=get, v=value: g(o) != v)
        else:
            reqs.append(lambda o, g=get, v=value: g(o) == v)
    return lambda obj: all(r(obj) for r in reqs)
