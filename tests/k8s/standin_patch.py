"""PATCH bodies for the Kubernetes API server stand-in.

merge-patch (RFC 7386), strategic merge patch taken as a merge patch (the two agree on maps,
which is what kubectl label/annotate send; lists are replaced whole, not merged by key), and
JSON patch (RFC 6902). A malformed patch raises PatchError (the server answers 422/400).
"""

import copy

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class PatchError(ValueError):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # strategic-merge directives ($patch, $retainKeys, ...) are not supported
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("json patch path must start with '/': %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError("json patch: path element %r not found" % p)
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError("json patch: bad list index %r" % p)
        else:
            raise PatchError("json patch: cannot descend into a scalar at %r" % p)
    return cur


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise PatchError("json patch: bad list index %r" % last)
            if idx < 0 or idx > len(parent):
                raise PatchError("json patch: list index out of range %r" % last)
            parent.insert(idx, value)
    else:
        raise PatchError("json patch: cannot add to a scalar")
    return doc


def _remove(doc, parts):
    if not parts:
        raise PatchError("json patch: cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError("json patch: nothing to remove at %r" % "/".join(parts))


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("json patch operation needs 'op' and 'path': %r" % (op,))
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError("json patch: test operation failed at %r" % op["path"])
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, parts, value)
        else:
            raise PatchError("json patch: unknown operation %r" % kind)
    return doc


def apply_patch(content_type, target, patch):
    ct = (content_type or "").split(";")[0].strip()
    if ct in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object")
        return merge_patch(target, patch)
    if ct == JSON_PATCH:
        return json_patch(target, patch)
    return None  # unsupported media type: the caller answers 415
