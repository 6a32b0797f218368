"""vpc-sim's configuration (docs/vpc-sim.md): loaded from JSON, checked, with defaults filled in.

A test stand-in's config: every mistake is an error at start (ConfigError), never a surprise later.
"""

import ipaddress
import json
import re

NETNS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


class ConfigError(Exception):
    pass


def _need(obj, key, where):
    if key not in obj:
        raise ConfigError("%s: missing %r" % (where, key))
    return obj[key]


def _netns(name, where):
    if not isinstance(name, str) or not NETNS_RE.match(name):
        raise ConfigError("%s: bad network namespace name %r" % (where, name))
    return name


def _positive(obj, key, where):
    v = _need(obj, key, where)
    if not isinstance(v, int) or v < 1:
        raise ConfigError("%s: %s must be a positive integer" % (where, key))
    return v


def subnet_router(cidr):
    """EC2's convention: the VPC router of a subnet is its first address + 1."""
    return cidr.network_address + 1


def subnet_reserved(cidr):
    """The addresses EC2 keeps in every subnet: network, router, DNS, future use, broadcast."""
    n = cidr.network_address
    return {n, n + 1, n + 2, n + 3, cidr.broadcast_address}


def load(path):
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError("%s: %s" % (path, e))
    return check(raw)


def check(raw):
    """Validates a parsed config and returns it with defaults and parsed networks added:
    subnets[i]["net"] (IPv4Network), instances[i]["ip"] (IPv4Address), lookups by id."""
    if not isinstance(raw, dict):
        raise ConfigError("config: not a JSON object")
    c = dict(raw)
    c.setdefault("region", "us-sim-1")
    c.setdefault("vpcId", "vpc-0000000000000517e")
    c.setdefault("accountId", "123456789012")
    c.setdefault("apiPort", 8080)
    c.setdefault("imdsPort", 80)
    c.setdefault("imdsAddress", "169.254.169.254")
    c.setdefault("detachDelayMs", 0)
    c.setdefault("vpcHosts", [])
    _netns(_need(c, "routerNetns", "config"), "routerNetns")
    try:
        c["vpcNet"] = ipaddress.IPv4Network(_need(c, "vpcCidr", "config"))
    except ValueError as e:
        raise ConfigError("vpcCidr: %s" % e)
    if not c["vpcNet"].subnet_of(ipaddress.IPv4Network("10.0.0.0/8")):
        raise ConfigError("vpcCidr: use a 10.x range")

    creds = _need(c, "credentials", "config")
    for k in ("accessKeyId", "secretAccessKey"):
        _need(creds, k, "credentials")
    creds.setdefault("sessionToken", "")
    creds.setdefault("role", "vpc-sim-node")

    c["subnetById"] = {}
    for s in _need(c, "subnets", "config"):
        where = "subnet %s" % s.get("id")
        sid = _need(s, "id", where)
        try:
            s["net"] = ipaddress.IPv4Network(_need(s, "cidr", where))
        except ValueError as e:
            raise ConfigError("%s: %s" % (where, e))
        if not s["net"].subnet_of(c["vpcNet"]):
            raise ConfigError("%s: %s is not inside the VPC %s" % (where, s["net"], c["vpcNet"]))
        if s["net"].prefixlen > 28:
            raise ConfigError("%s: EC2 subnets are /28 or larger" % where)
        for other in c["subnetById"].values():
            if other["net"].overlaps(s["net"]):
                raise ConfigError("%s overlaps subnet %s" % (where, other["id"]))
        if sid in c["subnetById"]:
            raise ConfigError("%s: duplicate id" % where)
        s.setdefault("az", c["region"] + "a")
        c["subnetById"][sid] = s

    c.setdefault("securityGroups", [{"id": "sg-0000000000000def0", "name": "default"}])
    c["groupById"] = {g["id"]: g for g in c["securityGroups"]}

    c["typeByName"] = {}
    for t in _need(c, "instanceTypes", "config"):
        where = "instance type %s" % t.get("name")
        _need(t, "name", where)
        _positive(t, "maxInterfaces", where)
        _positive(t, "ipv4PerInterface", where)
        c["typeByName"][t["name"]] = t

    used = set()
    c["instanceById"] = {}
    for i in _need(c, "instances", "config"):
        where = "instance %s" % i.get("id")
        iid = _need(i, "id", where)
        if iid in c["instanceById"]:
            raise ConfigError("%s: duplicate id" % where)
        if _need(i, "type", where) not in c["typeByName"]:
            raise ConfigError("%s: unknown type %r" % (where, i["type"]))
        subnet = c["subnetById"].get(_need(i, "subnet", where))
        if subnet is None:
            raise ConfigError("%s: unknown subnet %r" % (where, i["subnet"]))
        _netns(_need(i, "netns", where), where)
        i.setdefault("ifname", "eth0")
        if not IFNAME_RE.match(i["ifname"]):
            raise ConfigError("%s: bad ifname %r" % (where, i["ifname"]))
        i["ip"] = _address_in(subnet, _need(i, "primaryIp", where), used, where)
        i.setdefault("securityGroups", [c["securityGroups"][0]["id"]])
        for g in i["securityGroups"]:
            if g not in c["groupById"]:
                raise ConfigError("%s: unknown security group %r" % (where, g))
        i.setdefault("tags", {})
        i.setdefault("defaultRoute", True)
        c["instanceById"][iid] = i

    names = set()
    for h in c["vpcHosts"]:
        where = "VPC host %s" % h.get("name")
        name = _need(h, "name", where)
        if name in names or not re.match(r"^[a-z0-9-]{1,12}$", name):
            raise ConfigError("%s: duplicate or bad name (a-z0-9-, up to 12)" % where)
        names.add(name)
        _netns(_need(h, "netns", where), where)
        h.setdefault("ifname", "eth0")
        ip = ipaddress.IPv4Address(_need(h, "ip", where))
        subnet = next((s for s in c["subnetById"].values() if ip in s["net"]), None)
        if subnet is None:
            raise ConfigError("%s: %s is in no subnet" % (where, ip))
        h["subnet"] = subnet["id"]
        h["ip"] = _address_in(subnet, str(ip), used, where)
    return c


def _address_in(subnet, text, used, where):
    try:
        ip = ipaddress.IPv4Address(text)
    except ValueError as e:
        raise ConfigError("%s: %s" % (where, e))
    if ip not in subnet["net"] or ip in subnet_reserved(subnet["net"]):
        raise ConfigError("%s: %s is not a usable address of %s" % (where, ip, subnet["net"]))
    if ip in used:
        raise ConfigError("%s: %s is taken" % (where, ip))
    used.add(ip)
    return ip
