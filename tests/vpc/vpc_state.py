"""vpc-sim's model of the VPC: subnets and their free addresses, instances, network interfaces
(ENIs), attachments, secondary addresses, tags, and the limits EC2 enforces. Every change is made
real by `net` (vpc_net.KernelNet; a recording fake in the unit tests) while the lock is held, so
the kernel and the model change in the same order. Errors are Ec2Error with EC2's codes.
"""

import ipaddress
import os
import threading
import time

import vpc_config


class Ec2Error(Exception):
    """An EC2 error document: its code, message and HTTP status (EC2's: 400 for client errors,
    401 AuthFailure, 403 SignatureDoesNotMatch, 503 RequestLimitExceeded, 500 InternalError)."""

    def __init__(self, code, message, status=400):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message, self.status = code, message, status


def not_found_eni(eni_id):
    return Ec2Error("InvalidNetworkInterfaceID.NotFound",
                    "The networkInterface ID '%s' does not exist" % eni_id)


def new_id(prefix, taken):
    while True:
        i = prefix + os.urandom(9).hex()[:17]
        if i not in taken:
            return i


class Subnet:
    def __init__(self, cfg):
        self.id, self.net, self.az = cfg["id"], cfg["net"], cfg["az"]
        self.router = vpc_config.subnet_router(self.net)
        self.reserved = vpc_config.subnet_reserved(self.net)
        self.used = set()
        self.cursor = int(self.net.network_address) + 3

    def take(self, ip):
        if ip not in self.net or ip in self.reserved:
            raise Ec2Error("InvalidParameterValue",
                           "Address %s does not fall within the subnet's address range" % ip)
        if ip in self.used:
            raise Ec2Error("InvalidIPAddress.InUse", "Address %s is in use." % ip)
        self.used.add(ip)

    def allocate(self, count):
        """`count` free addresses, going on after the last one handed out (so a freed address is
        not handed out again at once), or InsufficientFreeAddressesInSubnet."""
        if count > self.available():
            raise Ec2Error("InsufficientFreeAddressesInSubnet",
                           "Insufficient free IP addresses in subnet %s." % self.id)
        first, size = int(self.net.network_address), self.net.num_addresses
        out = []
        while len(out) < count:
            self.cursor = first + (self.cursor - first + 1) % size
            ip = type(self.net.network_address)(self.cursor)
            if ip not in self.reserved and ip not in self.used:
                self.used.add(ip)
                out.append(ip)
        return out

    def free(self, ip):
        self.used.discard(ip)

    def available(self):
        return self.net.num_addresses - len(self.reserved) - len(self.used)


class Attachment:
    def __init__(self, att_id, instance_id, device_index):
        self.id, self.instance_id, self.device_index = att_id, instance_id, device_index
        self.status = "attached"
        self.time = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.delete_on_termination = device_index == 0


class Interface:
    def __init__(self, eni_id, subnet, mac, primary_ip):
        self.id, self.subnet, self.mac, self.primary_ip = eni_id, subnet, mac, primary_ip
        self.secondary = []
        self.groups, self.description, self.interface_type = [], "", "interface"
        self.tags = {}
        self.status = "available"
        self.attachment = None
        self.router_link = self.instance_link = ""

    def addresses(self):
        return [self.primary_ip] + self.secondary

    def to_json(self):
        a = self.attachment
        return {
            "id": self.id, "subnetId": self.subnet.id, "mac": self.mac, "status": self.status,
            "interfaceType": self.interface_type, "description": self.description,
            "securityGroups": list(self.groups), "tags": dict(self.tags),
            "primaryIp": str(self.primary_ip), "secondaryIps": [str(i) for i in self.secondary],
            "attachment": None if a is None else {
                "id": a.id, "instanceId": a.instance_id, "deviceIndex": a.device_index,
                "status": a.status, "deleteOnTermination": a.delete_on_termination},
            "routerLink": self.router_link, "instanceLink": self.instance_link,
        }


class Vpc:
    """Thread-safe: every method takes the lock."""

    def __init__(self, config, net):
        self.c, self.net = config, net
        self.lock = threading.RLock()
        self.subnets = {sid: Subnet(s) for sid, s in config["subnetById"].items()}
        self.instances = config["instanceById"]
        self.instance_tags = {iid: dict(i["tags"]) for iid, i in self.instances.items()}
        self.interfaces = {}  # id -> Interface, in creation order
        self.macs = set()
        self.tokens = {}  # ClientToken -> (request key, interface id)
        self.timers = []

    # --- start and stop ---

    def bootstrap(self):
        """The instances' primary interfaces (device index 0) and the VPC hosts, made real."""
        with self.lock:
            for inst in self.instances.values():
                subnet = self.subnets[inst["subnet"]]
                subnet.take(inst["ip"])
                eni = self._new_interface(subnet, inst["ip"], inst["securityGroups"],
                                          "Primary network interface", "interface")
                self._attach(eni, inst, 0)
                self.net.add_instance(inst, eni, subnet)
            for host in self.c["vpcHosts"]:
                subnet = self.subnets[host["subnet"]]
                subnet.take(host["ip"])
                self.net.add_host(host, self._new_mac(), subnet)

    def stop(self):
        with self.lock:
            for t in self.timers:
                t.cancel()

    # --- lookups ---

    def interface(self, eni_id):
        eni = self.interfaces.get(eni_id)
        if eni is None:
            raise not_found_eni(eni_id)
        return eni

    def instance(self, instance_id):
        inst = self.instances.get(instance_id)
        if inst is None:
            raise Ec2Error("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % instance_id)
        return inst

    def subnet(self, subnet_id):
        s = self.subnets.get(subnet_id)
        if s is None:
            raise Ec2Error("InvalidSubnetID.NotFound",
                           "The subnet ID '%s' does not exist" % subnet_id)
        return s

    def instance_type(self, instance_id):
        return self.c["typeByName"][self.instances[instance_id]["type"]]

    def attached_to(self, instance_id):
        """The instance's interfaces by device index."""
        enis = [e for e in self.interfaces.values()
                if e.attachment and e.attachment.instance_id == instance_id]
        return sorted(enis, key=lambda e: e.attachment.device_index)

    def instance_by_address(self, ip):
        """The instance one of whose interfaces owns `ip` (how the per-instance metadata service
        and the call counters know the caller), or None."""
        with self.lock:
            for e in self.interfaces.values():
                if e.attachment and any(str(a) == ip for a in e.addresses()):
                    return e.attachment.instance_id
        return None

    # --- actions ---

    def create_interface(self, subnet_id, groups, description, primary_ip, secondary_count,
                         interface_type, tags, client_token):
        with self.lock:
            key = (subnet_id, tuple(groups), description, primary_ip, secondary_count,
                   interface_type, tuple(sorted(tags.items())))
            if client_token and client_token in self.tokens:
                old_key, eni_id = self.tokens[client_token]
                if old_key != key:
                    raise Ec2Error("IdempotentParameterMismatch",
                                   "Client token %s was used with other parameters." %
                                   client_token)
                if eni_id in self.interfaces:
                    return self.interfaces[eni_id]
            subnet = self.subnet(subnet_id)
            groups = groups or [self.c["securityGroups"][0]["id"]]
            for g in groups:
                if g not in self.c["groupById"]:
                    raise Ec2Error("InvalidGroup.NotFound",
                                   "The security group '%s' does not exist" % g)
            if interface_type not in ("interface", "efa", "trunk"):
                raise Ec2Error("InvalidParameterValue",
                               "Invalid value '%s' for InterfaceType" % interface_type)
            limit = max(t["ipv4PerInterface"] for t in self.c["typeByName"].values())
            if secondary_count + 1 > limit:
                raise Ec2Error("PrivateIpAddressLimitExceeded",
                               "Number of private addresses will exceed limit.")
            if primary_ip:
                subnet.take(_parse_ip(primary_ip))
                primary = _parse_ip(primary_ip)
            else:
                primary = subnet.allocate(1)[0]
            try:
                secondary = subnet.allocate(secondary_count)
            except Ec2Error:
                subnet.free(primary)
                raise
            eni = self._new_interface(subnet, primary, groups, description, interface_type)
            eni.secondary = secondary
            eni.tags.update(tags)
            if client_token:
                self.tokens[client_token] = (key, eni.id)
            return eni

    def attach(self, eni_id, instance_id, device_index):
        with self.lock:
            eni = self.interface(eni_id)
            inst = self.instance(instance_id)
            if eni.attachment is not None:
                raise Ec2Error("InvalidNetworkInterface.InUse", "Interface: [%s] in use." % eni_id)
            if eni.subnet.az != self.subnets[inst["subnet"]].az:
                raise Ec2Error("InvalidParameterCombination",
                               "You may not attach a network interface to an instance if they "
                               "are not in the same availability zone")
            if device_index < 1:
                raise Ec2Error("InvalidParameterValue",
                               "Invalid value '%d' for deviceIndex" % device_index)
            attached = self.attached_to(instance_id)
            t = self.instance_type(instance_id)
            if len(attached) >= t["maxInterfaces"]:
                raise Ec2Error("AttachmentLimitExceeded",
                               "Interface count %d exceeds the limit for %s" %
                               (len(attached) + 1, t["name"]))
            if any(e.attachment.device_index == device_index for e in attached):
                raise Ec2Error("InvalidParameterValue",
                               "Instance '%s' already has an interface attached at device index "
                               "'%d'." % (instance_id, device_index))
            if len(eni.addresses()) > t["ipv4PerInterface"]:
                raise Ec2Error("PrivateIpAddressLimitExceeded",
                               "Number of private addresses will exceed limit.")
            att = self._attach(eni, inst, device_index)
            try:
                self.net.attach(inst, eni, device_index)
            except Exception:
                self._detached(eni)
                raise
            return att.id

    def detach(self, attachment_id, force):
        with self.lock:
            eni = next((e for e in self.interfaces.values()
                        if e.attachment and e.attachment.id == attachment_id), None)
            if eni is None:
                raise Ec2Error("InvalidAttachmentID.NotFound",
                               "The attachment ID '%s' does not exist" % attachment_id)
            if eni.attachment.device_index == 0:
                raise Ec2Error("OperationNotPermitted",
                               "The network interface at device index 0 cannot be detached.")
            if eni.attachment.status == "detaching" and not force:
                raise Ec2Error("IncorrectState",
                               "The attachment '%s' is already detaching." % attachment_id)
            self.net.detach(eni)
            delay = self.c["detachDelayMs"] / 1000.0
            if force or delay <= 0:
                self._detached(eni)
                return
            eni.attachment.status, eni.status = "detaching", "detaching"
            t = threading.Timer(delay, self._finish_detach, args=(eni, eni.attachment))
            t.daemon = True
            self.timers.append(t)
            t.start()

    def set_delete_on_termination(self, eni_id, attachment_id, value):
        with self.lock:
            eni = self.interface(eni_id)
            if eni.attachment is None or eni.attachment.id != attachment_id:
                raise Ec2Error("InvalidAttachmentID.NotFound",
                               "The attachment ID '%s' does not exist" % attachment_id)
            eni.attachment.delete_on_termination = value

    def delete_interface(self, eni_id):
        with self.lock:
            eni = self.interface(eni_id)
            if eni.attachment is not None:
                raise Ec2Error("InvalidNetworkInterface.InUse",
                               "The network interface '%s' is currently in use." % eni_id)
            for ip in eni.addresses():
                eni.subnet.free(ip)
            del self.interfaces[eni_id]

    def assign(self, eni_id, count, ips):
        with self.lock:
            eni = self.interface(eni_id)
            if eni.attachment is not None:
                limit = self.instance_type(eni.attachment.instance_id)["ipv4PerInterface"]
            else:
                limit = max(t["ipv4PerInterface"] for t in self.c["typeByName"].values())
            want = count if count else len(ips)
            if want < 1:
                raise Ec2Error("InvalidParameterValue",
                               "Invalid value '%d' for SecondaryPrivateIpAddressCount" % want)
            if len(eni.addresses()) + want > limit:
                raise Ec2Error("PrivateIpAddressLimitExceeded",
                               "Number of private addresses will exceed limit.")
            if count:
                new = eni.subnet.allocate(count)
            else:
                new = []
                try:
                    for text in ips:
                        ip = _parse_ip(text)
                        eni.subnet.take(ip)
                        new.append(ip)
                except Ec2Error:
                    for ip in new:
                        eni.subnet.free(ip)
                    raise
            eni.secondary.extend(new)
            if eni.attachment is not None and eni.attachment.status == "attached":
                for ip in new:
                    self.net.add_address(eni, ip)
            return new

    def unassign(self, eni_id, ips):
        with self.lock:
            eni = self.interface(eni_id)
            parsed = [_parse_ip(i) for i in ips]
            if not parsed or any(ip not in eni.secondary for ip in parsed):
                raise Ec2Error("InvalidParameterValue",
                               "Some of the specified addresses are not assigned to interface "
                               "%s" % eni_id)
            for ip in parsed:
                eni.secondary.remove(ip)
                eni.subnet.free(ip)
                if eni.router_link:
                    self.net.remove_address(eni, ip)

    def create_tags(self, resource_ids, tags, delete=False):
        with self.lock:
            targets = []
            for rid in resource_ids:
                if rid.startswith("eni-"):
                    targets.append(self.interface(rid).tags)
                elif rid.startswith("i-"):
                    self.instance(rid)
                    targets.append(self.instance_tags[rid])
                else:
                    raise Ec2Error("InvalidID", "The ID '%s' is not valid" % rid)
            for t in targets:
                for k, v in tags.items():
                    if not delete:
                        t[k] = v
                    elif k in t and (v is None or t[k] == v):
                        del t[k]

    def to_json(self):
        with self.lock:
            return {
                "vpcId": self.c["vpcId"], "region": self.c["region"],
                "subnets": [{"id": s.id, "cidr": str(s.net), "az": s.az,
                             "router": str(s.router), "available": s.available()}
                            for s in self.subnets.values()],
                "instances": [{"id": iid, "type": i["type"], "netns": i["netns"],
                               "primaryIp": str(i["ip"]), "tags": self.instance_tags[iid],
                               "interfaces": [e.id for e in self.attached_to(iid)]}
                              for iid, i in self.instances.items()],
                "interfaces": [e.to_json() for e in self.interfaces.values()],
            }

    # --- internals (lock held) ---

    def _new_mac(self):
        while True:
            mac = "0a:" + ":".join("%02x" % b for b in os.urandom(5))
            if mac not in self.macs:
                self.macs.add(mac)
                return mac

    def _new_interface(self, subnet, primary, groups, description, interface_type):
        eni = Interface(new_id("eni-", self.interfaces), subnet, self._new_mac(), primary)
        eni.groups, eni.description, eni.interface_type = list(groups), description, interface_type
        self.interfaces[eni.id] = eni
        return eni

    def _attach(self, eni, inst, device_index):
        taken = {e.attachment.id for e in self.interfaces.values() if e.attachment}
        eni.attachment = Attachment(new_id("eni-attach-", taken), inst["id"], device_index)
        eni.status = "in-use"
        return eni.attachment

    def _detached(self, eni):
        eni.attachment, eni.status = None, "available"
        eni.router_link = eni.instance_link = ""

    def _finish_detach(self, eni, attachment):
        with self.lock:
            if eni.attachment is attachment:
                self._detached(eni)


def _parse_ip(text):
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise Ec2Error("InvalidParameterValue", "Invalid IPv4 address '%s'" % text)
