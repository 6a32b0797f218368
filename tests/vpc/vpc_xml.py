"""EC2's XML for vpc-sim: response documents (namespace 2016-11-15, requestId first, elements in
the order EC2 sends them, lists as <...Set><item>) and the error document."""

from xml.sax.saxutils import escape

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def t(name, value):
    if isinstance(value, bool):
        value = "true" if value else "false"
    return "<%s>%s</%s>" % (name, escape(str(value)), name)


def n(name, *inner):
    return "<%s>%s</%s>" % (name, "".join(inner), name)


def items(name, rows):
    return "<%s>%s</%s>" % (name, "".join(n("item", *r) for r in rows), name)


def response(action, request_id, *inner):
    return (HEAD + '<%sResponse xmlns="%s">' % (action, NS) + t("requestId", request_id) +
            "".join(inner) + "</%sResponse>" % action)


def error(code, message, request_id):
    return (HEAD + "<Response>" + n("Errors", n("Error", t("Code", code), t("Message", message))) +
            t("RequestID", request_id) + "</Response>")


def dns_name(ip, region):
    return "ip-%s.%s.compute.internal" % (str(ip).replace(".", "-"), region)


def tag_set(tags):
    return items("tagSet", [[t("key", k), t("value", v)] for k, v in sorted(tags.items())])


def group_set(vpc, groups):
    names = vpc.c["groupById"]
    return items("groupSet", [[t("groupId", g), t("groupName", names[g]["name"])] for g in groups])


def addresses_set(eni, region):
    return items("privateIpAddressesSet",
                 [[t("privateIpAddress", ip), t("privateDnsName", dns_name(ip, region)),
                   t("primary", ip == eni.primary_ip)] for ip in eni.addresses()])


def interface(vpc, eni):
    """A NetworkInterface as CreateNetworkInterface and DescribeNetworkInterfaces send it."""
    c, a = vpc.c, eni.attachment
    out = [t("networkInterfaceId", eni.id), t("subnetId", eni.subnet.id), t("vpcId", c["vpcId"]),
           t("availabilityZone", eni.subnet.az), t("description", eni.description),
           t("ownerId", c["accountId"]), t("requesterManaged", False), t("status", eni.status),
           t("macAddress", eni.mac), t("privateIpAddress", eni.primary_ip),
           t("privateDnsName", dns_name(eni.primary_ip, c["region"])),
           t("sourceDestCheck", True), group_set(vpc, eni.groups)]
    if a is not None:
        out.append(n("attachment", t("attachmentId", a.id), t("instanceId", a.instance_id),
                     t("instanceOwnerId", c["accountId"]), t("deviceIndex", a.device_index),
                     t("networkCardIndex", 0), t("status", a.status), t("attachTime", a.time),
                     t("deleteOnTermination", a.delete_on_termination)))
    out += [tag_set(eni.tags), addresses_set(eni, c["region"]), n("ipv6AddressesSet"),
            t("interfaceType", eni.interface_type)]
    return out


def instance(vpc, iid):
    c, inst = vpc.c, vpc.instances[iid]
    enis = vpc.attached_to(iid)
    nics = []
    for e in enis:
        a = e.attachment
        nics.append([t("networkInterfaceId", e.id), t("subnetId", e.subnet.id),
                     t("vpcId", c["vpcId"]), t("description", e.description),
                     t("ownerId", c["accountId"]), t("status", e.status), t("macAddress", e.mac),
                     t("privateIpAddress", e.primary_ip),
                     t("privateDnsName", dns_name(e.primary_ip, c["region"])),
                     t("sourceDestCheck", True), group_set(vpc, e.groups),
                     n("attachment", t("attachmentId", a.id), t("deviceIndex", a.device_index),
                       t("networkCardIndex", 0), t("status", a.status), t("attachTime", a.time),
                       t("deleteOnTermination", a.delete_on_termination)),
                     addresses_set(e, c["region"]), n("ipv6AddressesSet"),
                     t("interfaceType", e.interface_type)])
    subnet = vpc.subnets[inst["subnet"]]
    return [t("instanceId", iid), t("imageId", "ami-0000000000000517e"),
            n("instanceState", t("code", 16), t("name", "running")),
            t("privateDnsName", dns_name(inst["ip"], c["region"])), t("dnsName", ""),
            t("amiLaunchIndex", 0), t("instanceType", inst["type"]),
            t("launchTime", "2026-01-01T00:00:00.000Z"),
            n("placement", t("availabilityZone", subnet.az), t("groupName", ""),
              t("tenancy", "default")),
            n("monitoring", t("state", "disabled")), t("subnetId", subnet.id),
            t("vpcId", c["vpcId"]), t("privateIpAddress", inst["ip"]),
            t("sourceDestCheck", True), group_set(vpc, inst["securityGroups"]),
            t("architecture", "x86_64"), t("rootDeviceType", "ebs"),
            t("virtualizationType", "hvm"), tag_set(vpc.instance_tags[iid]),
            t("hypervisor", "xen"), items("networkInterfaceSet", nics),
            t("ebsOptimized", False), t("enaSupport", True)]


def instance_type(ty):
    m = ty["maxInterfaces"]
    return [t("instanceType", ty["name"]), t("currentGeneration", True),
            n("networkInfo", t("networkPerformance", "Up to 10 Gigabit"),
              t("maximumNetworkInterfaces", m), t("maximumNetworkCards", 1),
              t("defaultNetworkCardIndex", 0),
              items("networkCards", [[t("networkCardIndex", 0),
                                      t("networkPerformance", "Up to 10 Gigabit"),
                                      t("maximumNetworkInterfaces", m)]]),
              t("ipv4AddressesPerInterface", ty["ipv4PerInterface"]),
              t("ipv6AddressesPerInterface", ty.get("ipv6PerInterface", 0)),
              t("ipv6Supported", False), t("enaSupport", "required"),
              t("efaSupported", bool(ty.get("efaSupported", False))),
              t("encryptionInTransitSupported", False))]


def subnet(vpc, s):
    c = vpc.c
    return [t("subnetId", s.id),
            t("subnetArn", "arn:aws:ec2:%s:%s:subnet/%s" % (c["region"], c["accountId"], s.id)),
            t("state", "available"), t("ownerId", c["accountId"]), t("vpcId", c["vpcId"]),
            t("cidrBlock", s.net), n("ipv6CidrBlockAssociationSet"),
            t("availableIpAddressCount", s.available()), t("availabilityZone", s.az),
            t("availabilityZoneId", s.az.replace(c["region"], "sim1-az")),
            t("defaultForAz", False), t("mapPublicIpOnLaunch", False), n("tagSet")]
