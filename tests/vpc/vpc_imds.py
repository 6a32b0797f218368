"""vpc-sim's instance metadata service, IMDSv2 only (HttpTokens=required): PUT /latest/api/token
first, then GETs carrying X-aws-ec2-metadata-token. The real service is per instance (link-local);
here one server answers all and knows the caller by its source address."""

import json
import os
import time

TTL_MAX = 21600


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Imds:
    def __init__(self, vpc, control, log):
        self.vpc, self.control, self.log = vpc, control, log
        self.c = vpc.c
        self.tokens = {}  # token -> (instance id, expiry)

    def handle(self, method, path, headers, client_ip):
        """Returns (status, body text, extra headers)."""
        hdr = {k.lower(): v for k, v in headers}
        instance_id = self.vpc.instance_by_address(client_ip)
        self.control.imds_arrived(instance_id or client_ip)
        self.control.delay("IMDS")
        if instance_id is None:
            return 403, "vpc-sim: %s is no instance's address\n" % client_ip, {}
        if path == "/latest/api/token":
            if method != "PUT":
                return 405, "Method Not Allowed\n", {}
            if "x-forwarded-for" in hdr:
                return 403, "Forbidden\n", {}
            try:
                ttl = int(hdr.get("x-aws-ec2-metadata-token-ttl-seconds", ""))
            except ValueError:
                ttl = 0
            if not 1 <= ttl <= TTL_MAX:
                return 400, "Bad Request\n", {}
            token = os.urandom(32).hex()
            self.tokens[token] = (instance_id, time.monotonic() + ttl)
            return 200, token, {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}
        if method not in ("GET", "HEAD"):
            return 405, "Method Not Allowed\n", {}
        owner, expiry = self.tokens.get(hdr.get("x-aws-ec2-metadata-token", ""), (None, 0))
        if owner != instance_id or time.monotonic() > expiry:
            return 401, "Unauthorized\n", {}
        body = self.lookup(instance_id, path)
        if body is None:
            return 404, "Not Found\n", {}
        return 200, body, {}

    def lookup(self, iid, path):
        with self.vpc.lock:
            return self._lookup(iid, path)

    def _lookup(self, iid, path):
        c, inst = self.c, self.vpc.instances[iid]
        subnet = self.vpc.subnets[inst["subnet"]]
        enis = self.vpc.attached_to(iid)
        creds = c["credentials"]
        if path == "/latest/dynamic/instance-identity/document":
            return json.dumps({"accountId": c["accountId"], "architecture": "x86_64",
                               "availabilityZone": subnet.az, "imageId": "ami-0000000000000517e",
                               "instanceId": iid, "instanceType": inst["type"],
                               "privateIp": str(inst["ip"]), "region": c["region"],
                               "version": "2017-09-30"}, indent=2)
        prefix = "/latest/meta-data/"
        if not path.startswith(prefix):
            return None
        key = path[len(prefix):]
        now = time.time()
        flat = {
            "": "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nmac\nnetwork/\n"
                "placement/",
            "ami-id": "ami-0000000000000517e",
            "hostname": "ip-%s.%s.compute.internal" % (str(inst["ip"]).replace(".", "-"),
                                                       c["region"]),
            "instance-id": iid, "instance-type": inst["type"], "local-ipv4": str(inst["ip"]),
            "mac": enis[0].mac,
            "placement/": "availability-zone\nregion", "placement/region": c["region"],
            "placement/availability-zone": subnet.az,
            "iam/": "security-credentials/",
            "iam/security-credentials/": creds["role"],
            "iam/security-credentials/" + creds["role"]: json.dumps({
                "Code": "Success", "LastUpdated": _iso(now), "Type": "AWS-HMAC",
                "AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"],
                "Token": creds["sessionToken"], "Expiration": _iso(now + 6 * 3600)}, indent=2),
            "network/": "interfaces/", "network/interfaces/": "macs/",
            "network/interfaces/macs/": "\n".join(e.mac + "/" for e in enis),
        }
        if key in flat:
            return flat[key]
        mac_prefix = "network/interfaces/macs/"
        if key.startswith(mac_prefix):
            mac, _, field = key[len(mac_prefix):].partition("/")
            eni = next((e for e in enis if e.mac == mac), None)
            if eni is None:
                return None
            fields = {
                "": "device-number\ninterface-id\nlocal-ipv4s\nmac\nsecurity-group-ids\n"
                    "subnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-blocks",
                "device-number": str(eni.attachment.device_index), "interface-id": eni.id,
                "local-ipv4s": "\n".join(str(i) for i in eni.addresses()), "mac": eni.mac,
                "security-group-ids": "\n".join(eni.groups), "subnet-id": eni.subnet.id,
                "subnet-ipv4-cidr-block": str(eni.subnet.net), "vpc-id": c["vpcId"],
                "vpc-ipv4-cidr-blocks": str(c["vpcNet"]),
            }
            return fields.get(field)
        return None
