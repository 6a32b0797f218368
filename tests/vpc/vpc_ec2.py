"""vpc-sim's EC2 Query API: form-encoded Action=...&Version=2016-11-15 requests, checked
(signature, throttling), applied to the Vpc and answered with EC2's XML. No HTTP here: the server
in vpc_sim.py hands each request to Ec2Api.handle()."""

import fnmatch
import urllib.parse
import uuid

import vpc_sigv4
import vpc_xml as X
from vpc_state import Ec2Error


def parse_params(raw_query, body):
    params = dict(urllib.parse.parse_qsl(raw_query or "", keep_blank_values=True))
    if body:
        params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                             keep_blank_values=True))
    return params


def indexed(params, prefix):
    """{N: rest-or-value} for "prefix.N" (value) and "prefix.N.rest" ({rest: value}), by N."""
    out = {}
    for k, v in params.items():
        if not k.startswith(prefix + "."):
            continue
        num, _, rest = k[len(prefix) + 1:].partition(".")
        if not num.isdigit():
            raise Ec2Error("InvalidParameterValue", "Invalid parameter %s" % k)
        if rest:
            out.setdefault(int(num), {})[rest] = v
        else:
            out[int(num)] = v
    return dict(sorted(out.items()))


def listed(params, prefix):
    return list(indexed(params, prefix).values())


def filters(params):
    out = []
    for f in indexed(params, "Filter").values():
        values = [v for k, v in sorted(f.items()) if k.startswith("Value.")]
        if "Name" not in f:
            raise Ec2Error("InvalidParameterValue", "A filter needs a Name")
        out.append((f["Name"], values))
    return out


def tags_of(params, prefix):
    out = {}
    for tag in indexed(params, prefix).values():
        if "Key" not in tag:
            raise Ec2Error("InvalidParameterValue", "A tag needs a Key")
        out[tag["Key"]] = tag.get("Value", "")
    return out


def need(params, name):
    if not params.get(name):
        raise Ec2Error("MissingParameter", "The request must contain the parameter %s" % name)
    return params[name]


def integer(params, name, default=None):
    if name not in params:
        if default is None:
            need(params, name)
        return default
    try:
        return int(params[name])
    except ValueError:
        raise Ec2Error("InvalidParameterValue", "Invalid value '%s' for %s" % (params[name], name))


def matches(fields, flts):
    """EC2's filter rule: every filter matches (AND), by any of its values (OR); * and ?
    are wildcards."""
    for name, values in flts:
        have = fields(name)
        if have is None:
            raise Ec2Error("InvalidParameterValue", "The filter '%s' is invalid" % name)
        if not any(fnmatch.fnmatchcase(h, v) for h in have for v in values):
            return False
    return True


def tag_fields(name, tags):
    if name.startswith("tag:"):
        return [tags[name[4:]]] if name[4:] in tags else []
    if name == "tag-key":
        return list(tags)
    if name == "tag-value":
        return list(tags.values())
    return None


def eni_fields(eni):
    a = eni.attachment

    def get(name):
        simple = {
            "network-interface-id": [eni.id], "status": [eni.status],
            "subnet-id": [eni.subnet.id], "availability-zone": [eni.subnet.az],
            "mac-address": [eni.mac], "interface-type": [eni.interface_type],
            "description": [eni.description], "group-id": list(eni.groups),
            "requester-managed": ["false"],
            "private-ip-address": [str(i) for i in eni.addresses()],
            "addresses.private-ip-address": [str(i) for i in eni.addresses()],
            "attachment.instance-id": [a.instance_id] if a else [],
            "attachment.attachment-id": [a.id] if a else [],
            "attachment.device-index": [str(a.device_index)] if a else [],
            "attachment.status": [a.status] if a else [],
        }
        return simple.get(name, tag_fields(name, eni.tags))
    return get


def page(params, rows, has_ids):
    """MaxResults/NextToken paging (EC2's bounds: 5-1000; not with explicit ids)."""
    if "MaxResults" not in params and "NextToken" not in params:
        return rows, None
    if has_ids:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter MaxResults cannot be used with ids")
    size = integer(params, "MaxResults", 1000)
    if not 5 <= size <= 1000:
        raise Ec2Error("InvalidParameterValue", "MaxResults must be between 5 and 1000")
    token = params.get("NextToken", "vpcsim-0")
    if not token.startswith("vpcsim-") or not token[7:].isdigit():
        raise Ec2Error("InvalidPaginationToken", "Invalid pagination token '%s'" % token)
    start = int(token[7:])
    rest = rows[start + size:]
    return rows[start:start + size], ("vpcsim-%d" % (start + size) if rest else None)


class Ec2Api:
    def __init__(self, vpc, control, log):
        self.vpc, self.control, self.log = vpc, control, log
        self.c = vpc.c

    def handle(self, method, raw_path, raw_query, headers, body, client_ip):
        """Returns (HTTP status, XML text)."""
        request_id = str(uuid.uuid4())
        params = parse_params(raw_query, body)
        action = params.get("Action", "")
        caller = self.vpc.instance_by_address(client_ip) or client_ip
        self.control.arrived(action, caller)
        self.control.delay(action)
        call = {"action": action, "caller": caller, "params": params}
        try:
            if method not in ("GET", "POST") or (raw_path or "/") != "/":
                raise Ec2Error("InvalidAction", "vpc-sim serves EC2's Query API at POST /")
            vpc_sigv4.verify(method, raw_path, raw_query, headers, body, self.c["credentials"],
                             self.c["region"])
            if self.control.throttled(action):
                raise Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503)
            fn = getattr(self, "do" + action, None) if action.isalnum() else None
            if fn is None:
                raise Ec2Error("InvalidAction",
                               "The action %s is not valid for this web service." % action)
            if params.get("DryRun") == "true":
                raise Ec2Error("DryRunOperation",
                               "Request would have succeeded, but DryRun flag is set.", 412)
            self.control.hold(action, "before", call)
            with self.vpc.lock:
                status, text = 200, X.response(action, request_id, *fn(params))
        except Ec2Error as e:
            self.control.failed(action, e.code)
            status, text = e.status, X.error(e.code, e.message, request_id)
            self.log("ec2 action=%s caller=%s code=%s message=%r" %
                     (action, caller, e.code, e.message))
        self.control.hold(action, "after", call)
        return status, text

    # --- describe ---

    def doDescribeInstances(self, p):
        ids = listed(p, "InstanceId")
        for i in ids:
            self.vpc.instance(i)
        flts = filters(p)
        rows = []
        for iid, inst in self.vpc.instances.items():
            if ids and iid not in ids:
                continue
            enis = self.vpc.attached_to(iid)
            subnet = self.vpc.subnets[inst["subnet"]]
            fields = {
                "instance-id": [iid], "instance-type": [inst["type"]],
                "subnet-id": [subnet.id], "availability-zone": [subnet.az],
                "vpc-id": [self.c["vpcId"]], "instance-state-name": ["running"],
                "private-ip-address": [str(inst["ip"])],
                "network-interface.network-interface-id": [e.id for e in enis],
            }
            tags = self.vpc.instance_tags[iid]
            if matches(lambda n: fields.get(n, tag_fields(n, tags)), flts):
                rows.append(iid)
        rows, token = page(p, rows, bool(ids))
        out = [X.items("reservationSet", [
            [X.t("reservationId", "r-" + iid[2:]), X.t("ownerId", self.c["accountId"]),
             X.n("groupSet"), X.items("instancesSet", [X.instance(self.vpc, iid)])]
            for iid in rows])]
        return out + ([X.t("nextToken", token)] if token else [])

    def doDescribeInstanceTypes(self, p):
        names = listed(p, "InstanceType")
        types = self.c["typeByName"]
        missing = [nm for nm in names if nm not in types]
        if missing:
            raise Ec2Error("InvalidInstanceType", "The following supplied instance types do not "
                           "exist: [%s]" % ", ".join(missing))
        flts = filters(p)
        rows = [ty for nm, ty in types.items() if (not names or nm in names) and
                matches(lambda f, ty=ty: {"instance-type": [ty["name"]]}.get(f), flts)]
        rows, token = page(p, rows, bool(names))
        return ([X.items("instanceTypeSet", [X.instance_type(ty) for ty in rows])] +
                ([X.t("nextToken", token)] if token else []))

    def doDescribeSubnets(self, p):
        ids = listed(p, "SubnetId")
        for i in ids:
            self.vpc.subnet(i)
        flts = filters(p)
        rows = []
        for s in self.vpc.subnets.values():
            fields = {"subnet-id": [s.id], "availability-zone": [s.az],
                      "cidr-block": [str(s.net)], "vpc-id": [self.c["vpcId"]],
                      "state": ["available"]}
            if (not ids or s.id in ids) and matches(lambda f: fields.get(f, tag_fields(f, {})),
                                                     flts):
                rows.append(s)
        return [X.items("subnetSet", [X.subnet(self.vpc, s) for s in rows])]

    def doDescribeNetworkInterfaces(self, p):
        ids = listed(p, "NetworkInterfaceId")
        for i in ids:
            self.vpc.interface(i)
        flts = filters(p)
        rows = [e for e in self.vpc.interfaces.values()
                if (not ids or e.id in ids) and matches(eni_fields(e), flts)]
        rows, token = page(p, rows, bool(ids))
        return ([X.items("networkInterfaceSet", [X.interface(self.vpc, e) for e in rows])] +
                ([X.t("nextToken", token)] if token else []))

    # --- interfaces ---

    def doCreateNetworkInterface(self, p):
        tags = {}
        for spec in indexed(p, "TagSpecification").values():
            if spec.get("ResourceType", "network-interface") != "network-interface":
                raise Ec2Error("InvalidParameterValue", "'%s' is not a valid taggable resource "
                               "type for this operation." % spec.get("ResourceType"))
            tags.update(tags_of({k: v for k, v in spec.items()}, "Tag"))
        eni = self.vpc.create_interface(
            need(p, "SubnetId"), listed(p, "SecurityGroupId"), p.get("Description", ""),
            p.get("PrivateIpAddress", ""), integer(p, "SecondaryPrivateIpAddressCount", 0),
            p.get("InterfaceType", "interface"), tags, p.get("ClientToken", ""))
        self.log("create eni=%s subnet=%s token=%s" % (eni.id, eni.subnet.id,
                                                        p.get("ClientToken", "")))
        out = [X.n("networkInterface", *X.interface(self.vpc, eni))]
        return out + ([X.t("clientToken", p["ClientToken"])] if p.get("ClientToken") else [])

    def doAttachNetworkInterface(self, p):
        att = self.vpc.attach(need(p, "NetworkInterfaceId"), need(p, "InstanceId"),
                              integer(p, "DeviceIndex"))
        return [X.t("attachmentId", att), X.t("networkCardIndex", 0)]

    def doDetachNetworkInterface(self, p):
        self.vpc.detach(need(p, "AttachmentId"), p.get("Force", "false").lower() == "true")
        return [X.t("return", True)]

    def doModifyNetworkInterfaceAttribute(self, p):
        # The attachment's DeleteOnTermination: the one attribute quasar changes.
        if "Attachment.DeleteOnTermination" not in p:
            raise Ec2Error("InvalidParameterCombination", "vpc-sim modifies only "
                           "Attachment.DeleteOnTermination")
        value = p["Attachment.DeleteOnTermination"].lower()
        if value not in ("true", "false"):
            raise Ec2Error("InvalidParameterValue", "Invalid value '%s' for "
                           "Attachment.DeleteOnTermination" % p["Attachment.DeleteOnTermination"])
        self.vpc.set_delete_on_termination(need(p, "NetworkInterfaceId"),
                                           need(p, "Attachment.AttachmentId"), value == "true")
        return [X.t("return", True)]

    def doDeleteNetworkInterface(self, p):
        self.vpc.delete_interface(need(p, "NetworkInterfaceId"))
        return [X.t("return", True)]

    def doCreateTags(self, p):
        ids, tags = listed(p, "ResourceId"), tags_of(p, "Tag")
        if not ids or not tags:
            raise Ec2Error("MissingParameter", "The request must contain the parameters "
                           "ResourceId.N and Tag.N")
        self.vpc.create_tags(ids, tags)
        return [X.t("return", True)]

    def doDeleteTags(self, p):
        ids = listed(p, "ResourceId")
        if not ids:
            need(p, "ResourceId.1")
        tags = {t["Key"]: t.get("Value") for t in indexed(p, "Tag").values() if "Key" in t}
        self.vpc.create_tags(ids, tags, delete=True)
        return [X.t("return", True)]

    # --- addresses ---

    def doAssignPrivateIpAddresses(self, p):
        eni_id = need(p, "NetworkInterfaceId")
        count = integer(p, "SecondaryPrivateIpAddressCount", 0)
        ips = listed(p, "PrivateIpAddress")
        if count and ips:
            raise Ec2Error("InvalidParameterCombination", "Specify either "
                           "SecondaryPrivateIpAddressCount or PrivateIpAddress, not both")
        if not count and not ips:
            raise Ec2Error("MissingParameter", "The request must contain the parameter "
                           "SecondaryPrivateIpAddressCount or PrivateIpAddress")
        new = self.vpc.assign(eni_id, count, ips)
        self.log("assign eni=%s ips=%s" % (eni_id, ",".join(map(str, new))))
        return [X.t("networkInterfaceId", eni_id),
                X.items("assignedPrivateIpAddressesSet", [[X.t("privateIpAddress", ip)]
                                                          for ip in new]),
                X.n("assignedIpv4PrefixSet")]

    def doUnassignPrivateIpAddresses(self, p):
        eni_id = need(p, "NetworkInterfaceId")
        self.vpc.unassign(eni_id, listed(p, "PrivateIpAddress"))
        return [X.t("return", True)]
