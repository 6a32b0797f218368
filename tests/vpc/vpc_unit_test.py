#!/usr/bin/python3
"""vpc-sim without a kernel (ctest vpc_sim_unit_test, label unit): SigV4 verification against
AWS's published examples, and the EC2 API, limits, IMDS and controls over a recording fake of
the kernel side. The real namespaces are tested by tests/vpc_sim_test.cc (label netns)."""

import calendar
import hashlib
import hmac
import os
import sys
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vpc_config  # noqa: E402
import vpc_control  # noqa: E402
import vpc_ec2  # noqa: E402
import vpc_imds  # noqa: E402
import vpc_sigv4  # noqa: E402
import vpc_state  # noqa: E402

NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
EXAMPLE = {"accessKeyId": "AKIDEXAMPLE",
           "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
EXAMPLE_TIME = calendar.timegm(time.strptime("20150830T123600Z", "%Y%m%dT%H%M%SZ"))


class FakeNet:
    def __init__(self):
        self.events = []

    def add_instance(self, inst, eni, subnet):
        eni.router_link, eni.instance_link = "r" + eni.id[4:16], inst["ifname"]
        self.events.append(("instance", inst["id"], eni.id))

    def attach(self, inst, eni, index):
        eni.router_link, eni.instance_link = "r" + eni.id[4:16], "eth%d" % index
        self.events.append(("attach", eni.id, inst["id"], index))

    def detach(self, eni):
        self.events.append(("detach", eni.id))
        eni.router_link = eni.instance_link = ""

    def add_address(self, eni, ip):
        self.events.append(("add", eni.id, str(ip)))

    def remove_address(self, eni, ip):
        self.events.append(("remove", eni.id, str(ip)))

    def add_host(self, host, mac, subnet):
        self.events.append(("host", host["name"]))


def config():
    return vpc_config.check({
        "routerNetns": "unit-r", "vpcCidr": "10.40.0.0/16",
        "credentials": {"accessKeyId": "AKID", "secretAccessKey": "SECRET",
                        "sessionToken": "TOKEN"},
        "subnets": [{"id": "subnet-a", "cidr": "10.40.1.0/24", "az": "us-sim-1a"},
                    {"id": "subnet-tiny", "cidr": "10.40.2.0/28", "az": "us-sim-1a"},
                    {"id": "subnet-far", "cidr": "10.40.3.0/24", "az": "us-sim-1b"}],
        "instanceTypes": [{"name": "sim.small", "maxInterfaces": 2, "ipv4PerInterface": 3}],
        "instances": [{"id": "i-a", "type": "sim.small", "subnet": "subnet-a",
                       "primaryIp": "10.40.1.10", "netns": "unit-a"},
                      {"id": "i-b", "type": "sim.small", "subnet": "subnet-a",
                       "primaryIp": "10.40.1.11", "netns": "unit-b"}],
        "vpcHosts": [{"name": "db", "netns": "unit-h", "ip": "10.40.1.50"}],
    })


def sign(params, creds, region="us-sim-1", when=None, token="TOKEN"):
    body = urllib.parse.urlencode(dict(params, Version="2016-11-15")).encode()
    amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when or time.time()))
    headers = [("Host", "10.40.1.1:8080"), ("Content-Type", "application/x-www-form-urlencoded"),
               ("X-Amz-Date", amz)] + ([("X-Amz-Security-Token", token)] if token else [])
    signed = sorted(h.lower() for h, _ in headers)
    creq = vpc_sigv4.canonical_request("POST", "/", "", headers, signed,
                                       hashlib.sha256(body).hexdigest())
    scope = "%s/%s/ec2/aws4_request" % (amz[:8], region)
    sig = hmac.new(vpc_sigv4.signing_key(creds["secretAccessKey"], amz[:8], region, "ec2"),
                   vpc_sigv4.string_to_sign(amz, scope, creq).encode(), hashlib.sha256).hexdigest()
    headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                    "Signature=%s" % (creds["accessKeyId"], scope, ";".join(signed), sig)))
    return headers, body


class SigV4(unittest.TestCase):
    def test_aws_iam_list_users_example(self):
        # AWS's worked example of the signing process (IAM ListUsers, 2015-08-30).
        h = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
             ("Host", "iam.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
             ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
              "aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b1"
              "3162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")]
        self.assertEqual(vpc_sigv4.signing_key(EXAMPLE["secretAccessKey"], "20150830",
                                               "us-east-1", "iam").hex(),
                         "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        vpc_sigv4.verify("GET", "/", "Action=ListUsers&Version=2010-05-08", h, b"", EXAMPLE,
                         "us-east-1", "iam", EXAMPLE_TIME)

    def test_aws_test_suite_get_vanilla(self):
        h = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
             ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
              "service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73eb"
              "f1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")]
        vpc_sigv4.verify("GET", "/", "", h, b"", EXAMPLE, "us-east-1", "service", EXAMPLE_TIME)
        h[1] = ("X-Amz-Date", "20150830T123601Z")  # signed header changed
        with self.assertRaises(vpc_state.Ec2Error) as e:
            vpc_sigv4.verify("GET", "/", "", h, b"", EXAMPLE, "us-east-1", "service",
                             EXAMPLE_TIME)
        self.assertEqual((e.exception.code, e.exception.status), ("SignatureDoesNotMatch", 403))

    def check_refused(self, code, **kw):
        creds = {"accessKeyId": "AKID", "secretAccessKey": "SECRET", "sessionToken": "TOKEN"}
        signer = dict(creds, **kw.pop("signer", {}))
        headers, body = sign({"Action": "DescribeSubnets"}, signer, **kw)
        with self.assertRaises(vpc_state.Ec2Error) as e:
            vpc_sigv4.verify("POST", "/", "", headers, body, creds, "us-sim-1")
        self.assertEqual(e.exception.code, code)

    def test_refusals(self):
        self.check_refused("SignatureDoesNotMatch", signer={"secretAccessKey": "OTHER"})
        self.check_refused("AuthFailure", signer={"accessKeyId": "OTHER"})
        self.check_refused("AuthFailure", region="us-sim-2")
        self.check_refused("AuthFailure", token="")
        self.check_refused("AuthFailure", token="STALE")
        self.check_refused("RequestExpired", when=time.time() - 3600)
        with self.assertRaises(vpc_state.Ec2Error) as e:
            vpc_sigv4.verify("POST", "/", "", [("Host", "h")], b"", EXAMPLE, "us-sim-1")
        self.assertEqual(e.exception.code, "MissingAuthenticationToken")


class Api(unittest.TestCase):
    def setUp(self):
        self.net = FakeNet()
        self.vpc = vpc_state.Vpc(config(), self.net)
        self.vpc.bootstrap()
        self.control = vpc_control.Control()
        self.api = vpc_ec2.Ec2Api(self.vpc, self.control, lambda m: None)
        self.creds = self.vpc.c["credentials"]

    def tearDown(self):
        self.control.stop()

    def call(self, action, ip="10.40.1.10", **params):
        headers, body = sign(dict(params, Action=action), self.creds)
        status, text = self.api.handle("POST", "/", "", headers, body, ip)
        root = ET.fromstring(text)
        if status != 200:
            self.assertEqual(root.tag, "Response")
            return status, root.find("Errors/Error/Code").text
        self.assertEqual(root.tag, NS + action + "Response")
        self.assertTrue(root.find(NS + "requestId").text)
        return status, root

    def ok(self, action, **params):
        status, root = self.call(action, **params)
        self.assertEqual(status, 200, root)
        return root

    def error(self, action, **params):
        status, code = self.call(action, **params)
        self.assertNotEqual(status, 200)
        return code

    def create(self, **params):
        root = self.ok("CreateNetworkInterface", **dict({"SubnetId": "subnet-a"}, **params))
        return root.find(NS + "networkInterface/" + NS + "networkInterfaceId").text

    def test_instance_and_its_primary_interface(self):
        root = self.ok("DescribeInstances", **{"InstanceId.1": "i-a"})
        inst = root.find(".//%sinstancesSet/%sitem" % (NS, NS))
        self.assertEqual(inst.find(NS + "instanceType").text, "sim.small")
        self.assertEqual(inst.find(NS + "placement/" + NS + "availabilityZone").text, "us-sim-1a")
        nic = inst.find(NS + "networkInterfaceSet/" + NS + "item")
        self.assertEqual(nic.find(NS + "attachment/" + NS + "deviceIndex").text, "0")
        self.assertEqual(self.error("DescribeInstances", **{"InstanceId.1": "i-x"}),
                         "InvalidInstanceID.NotFound")
        root = self.ok("DescribeInstanceTypes", **{"InstanceType.1": "sim.small"})
        self.assertEqual(root.find(".//%smaximumNetworkInterfaces" % NS).text, "2")
        self.assertEqual(root.find(".//%sipv4AddressesPerInterface" % NS).text, "3")

    def test_client_token_returns_the_same_interface(self):
        a = self.create(ClientToken="tok-1", Description="x")
        self.assertEqual(self.create(ClientToken="tok-1", Description="x"), a)
        self.assertNotEqual(self.create(ClientToken="tok-2", Description="x"), a)
        self.assertEqual(self.error("CreateNetworkInterface", SubnetId="subnet-a",
                                    ClientToken="tok-1", Description="y"),
                         "IdempotentParameterMismatch")

    def test_limits(self):
        eni = self.create()
        self.ok("AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId="i-a",
                DeviceIndex="1")
        self.assertIn(("attach", eni, "i-a", 1), self.net.events)
        other = self.create()
        self.assertEqual(self.error("AttachNetworkInterface", NetworkInterfaceId=other,
                                    InstanceId="i-a", DeviceIndex="2"),
                         "AttachmentLimitExceeded")
        root = self.ok("AssignPrivateIpAddresses", NetworkInterfaceId=eni,
                       SecondaryPrivateIpAddressCount="2")
        ips = [e.text for e in root.iter(NS + "privateIpAddress")]
        self.assertEqual(len(ips), 2)
        self.assertEqual(self.error("AssignPrivateIpAddresses", NetworkInterfaceId=eni,
                                    SecondaryPrivateIpAddressCount="1"),
                         "PrivateIpAddressLimitExceeded")
        self.ok("UnassignPrivateIpAddresses", NetworkInterfaceId=eni,
                **{"PrivateIpAddress.1": ips[0]})
        self.assertIn(("remove", eni, ips[0]), self.net.events)
        self.ok("AssignPrivateIpAddresses", NetworkInterfaceId=eni,
                SecondaryPrivateIpAddressCount="1")

    def test_subnet_runs_out(self):
        # A /28 has 16 - 5 (EC2's reserved) = 11 addresses.
        for _ in range(11):
            self.create(SubnetId="subnet-tiny")
        self.assertEqual(self.error("CreateNetworkInterface", SubnetId="subnet-tiny"),
                         "InsufficientFreeAddressesInSubnet")
        root = self.ok("DescribeSubnets", **{"SubnetId.1": "subnet-tiny"})
        self.assertEqual(root.find(".//%savailableIpAddressCount" % NS).text, "0")

    def test_state_errors(self):
        primary = self.vpc.attached_to("i-a")[0]
        self.assertEqual(self.error("DetachNetworkInterface",
                                    AttachmentId=primary.attachment.id),
                         "OperationNotPermitted")
        self.assertEqual(self.error("DeleteNetworkInterface", NetworkInterfaceId=primary.id),
                         "InvalidNetworkInterface.InUse")
        self.assertEqual(self.error("DeleteNetworkInterface", NetworkInterfaceId="eni-0"),
                         "InvalidNetworkInterfaceID.NotFound")
        self.assertEqual(self.error("DetachNetworkInterface", AttachmentId="eni-attach-0"),
                         "InvalidAttachmentID.NotFound")
        far = self.create(SubnetId="subnet-far")
        self.assertEqual(self.error("AttachNetworkInterface", NetworkInterfaceId=far,
                                    InstanceId="i-a", DeviceIndex="1"),
                         "InvalidParameterCombination")
        self.assertEqual(self.error("RunInstances"), "InvalidAction")
        self.assertEqual(self.error("AttachNetworkInterface", NetworkInterfaceId=far),
                         "MissingParameter")

    def test_detach_then_delete(self):
        eni = self.create()
        att = self.ok("AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId="i-b",
                      DeviceIndex="1").find(NS + "attachmentId").text
        self.ok("DetachNetworkInterface", AttachmentId=att)
        self.assertIn(("detach", eni), self.net.events)
        self.ok("DeleteNetworkInterface", NetworkInterfaceId=eni)
        self.assertEqual(self.error("DescribeNetworkInterfaces",
                                    **{"NetworkInterfaceId.1": eni}),
                         "InvalidNetworkInterfaceID.NotFound")

    def test_delete_on_termination(self):
        eni = self.create()
        att = self.ok("AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId="i-b",
                      DeviceIndex="1").find(NS + "attachmentId").text

        def flag():
            root = self.ok("DescribeNetworkInterfaces", **{"NetworkInterfaceId.1": eni})
            return root.find(".//%sattachment/%sdeleteOnTermination" % (NS, NS)).text

        self.assertEqual(flag(), "false")  # EC2's default for an attached interface
        self.ok("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni,
                **{"Attachment.AttachmentId": att, "Attachment.DeleteOnTermination": "true"})
        self.assertEqual(flag(), "true")
        self.assertEqual(self.error("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni,
                                    **{"Attachment.AttachmentId": "eni-attach-other",
                                       "Attachment.DeleteOnTermination": "true"}),
                         "InvalidAttachmentID.NotFound")
        self.assertEqual(self.error("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni,
                                    **{"Attachment.AttachmentId": att,
                                       "Attachment.DeleteOnTermination": "yes"}),
                         "InvalidParameterValue")

    def test_filters(self):
        mine = self.create(**{"TagSpecification.1.ResourceType": "network-interface",
                              "TagSpecification.1.Tag.1.Key": "quasar.io/node",
                              "TagSpecification.1.Tag.1.Value": "node-a"})
        self.create()
        self.ok("AttachNetworkInterface", NetworkInterfaceId=mine, InstanceId="i-a",
                DeviceIndex="1")

        def ids(**flt):
            root = self.ok("DescribeNetworkInterfaces", **flt)
            return sorted(e.text for e in root.iter(NS + "networkInterfaceId"))
        self.assertEqual(ids(**{"Filter.1.Name": "tag:quasar.io/node",
                                "Filter.1.Value.1": "node-*"}), [mine])
        primary = self.vpc.attached_to("i-a")[0].id
        self.assertEqual(ids(**{"Filter.1.Name": "attachment.instance-id",
                                "Filter.1.Value.1": "i-a"}), sorted([mine, primary]))
        self.assertEqual(len(ids(**{"Filter.1.Name": "status",
                                    "Filter.1.Value.1": "available"})), 1)
        self.ok("CreateTags", **{"ResourceId.1": primary, "Tag.1.Key": "quasar.io/node",
                                 "Tag.1.Value": "x"})
        self.assertEqual(ids(**{"Filter.1.Name": "tag-key", "Filter.1.Value.1": "quasar.io/*"}),
                         sorted([mine, primary]))
        self.assertEqual(self.error("DescribeNetworkInterfaces",
                                    **{"Filter.1.Name": "bogus", "Filter.1.Value.1": "x"}),
                         "InvalidParameterValue")

    def test_throttle_counts_and_holds(self):
        self.control.rules.append({"action": "", "remaining": 2})
        self.assertEqual(self.call("DescribeSubnets"), (503, "RequestLimitExceeded"))
        self.assertEqual(self.call("DescribeSubnets"), (503, "RequestLimitExceeded"))
        self.ok("DescribeSubnets")
        counts = self.control.counts()
        self.assertEqual(counts["calls"]["DescribeSubnets"], 3)
        self.assertEqual(counts["byCaller"]["i-a"]["DescribeSubnets"], 3)
        self.assertEqual(counts["throttled"]["DescribeSubnets"], 2)

        eni = self.create()
        hold = self.control.add_hold("AttachNetworkInterface", "before")
        done = []
        t = threading.Thread(target=lambda: done.append(self.call(
            "AttachNetworkInterface", NetworkInterfaceId=eni, InstanceId="i-a",
            DeviceIndex="1")))
        t.start()
        self.assertEqual(self.control.wait_held(hold.id, 10).state, "held")
        self.assertFalse(any(e[0] == "attach" for e in self.net.events))  # not applied yet
        self.control.release(hold.id)
        t.join(10)
        self.assertEqual(done[0][0], 200)
        self.assertTrue(any(e[0] == "attach" for e in self.net.events))


class Imds(unittest.TestCase):
    def test_token_first_and_per_instance(self):
        vpc = vpc_state.Vpc(config(), FakeNet())
        vpc.bootstrap()
        imds = vpc_imds.Imds(vpc, vpc_control.Control(), lambda m: None)
        path = "/latest/meta-data/instance-id"
        self.assertEqual(imds.handle("GET", path, [], "10.40.1.10")[0], 401)
        self.assertEqual(imds.handle("PUT", "/latest/api/token", [], "10.40.1.10")[0], 400)
        status, token, _ = imds.handle("PUT", "/latest/api/token",
                                       [("X-aws-ec2-metadata-token-ttl-seconds", "60")],
                                       "10.40.1.10")
        self.assertEqual(status, 200)
        auth = [("X-aws-ec2-metadata-token", token)]
        self.assertEqual(imds.handle("GET", path, auth, "10.40.1.10")[:2], (200, "i-a"))
        self.assertEqual(imds.handle("GET", path, auth, "10.40.1.11")[0], 401)  # i-b's
        self.assertEqual(imds.handle("GET", "/latest/meta-data/placement/region", auth,
                                     "10.40.1.10")[1], "us-sim-1")
        self.assertEqual(imds.handle("GET", path, auth, "10.40.1.50")[0], 403)  # no instance


if __name__ == "__main__":
    unittest.main(verbosity=2)
