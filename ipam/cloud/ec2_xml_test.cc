#include "ipam/cloud/ec2_xml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace quasar::ipam::cloud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The files under testdata/ are EC2 API Reference example responses; each names its source.
std::string testdata(const std::string& name) {
  std::ifstream in(std::string(QUASAR_CLOUD_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << "cannot read testdata/" << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

conf::IpAddress ip(const char* s) { return *conf::IpAddress::parse(s); }

TEST(Ec2Xml, DescribeNetworkInterfacesReferenceExample) {
  auto page = parseDescribeNetworkInterfaces(testdata("describe_network_interfaces.xml"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->interfaces.size(), 2u);
  EXPECT_EQ(page->next_token, "");
  const NetworkInterface& a = page->interfaces[0];
  EXPECT_EQ(a.id, "eni-0f62d866");
  EXPECT_EQ(a.subnet_id, "subnet-c53c87ac");
  EXPECT_EQ(a.mac, "02:81:60:cb:27:37");
  EXPECT_EQ(a.status, "in-use");
  EXPECT_EQ(a.interface_type, "interface");  // absent in the example: EC2's default
  EXPECT_EQ(a.description, "");
  EXPECT_EQ(a.attachment_id, "eni-attach-6537fc0c");
  EXPECT_EQ(a.instance_id, "i-1234567890abcdef0");
  EXPECT_EQ(a.device_index, 0);
  EXPECT_TRUE(a.delete_on_termination);
  EXPECT_EQ(a.primary_ip, ip("10.0.0.146"));
  EXPECT_THAT(a.secondary_ips, ElementsAre(ip("10.0.0.148"), ip("10.0.0.150")));
  EXPECT_THAT(a.tags, IsEmpty());
  const NetworkInterface& b = page->interfaces[1];
  EXPECT_EQ(b.id, "eni-a66ed5cf");
  EXPECT_EQ(b.description, "Primary network interface");
  EXPECT_EQ(b.primary_ip, ip("10.0.1.233"));
  EXPECT_THAT(b.secondary_ips, ElementsAre(ip("10.0.1.20")));
}

TEST(Ec2Xml, DescribeNetworkInterfacesTagsTypeDetachedAndNextToken) {
  // Written for this test in the reference's shape: one of quasar's interfaces, an EFA one, an
  // unattached one and a page token.
  const char* xml = R"(<DescribeNetworkInterfacesResponse
      xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>r-1</requestId>
    <networkInterfaceSet>
      <item>
        <networkInterfaceId>eni-0aaa</networkInterfaceId><subnetId>subnet-1</subnetId>
        <description>quasar node-a</description><status>in-use</status>
        <macAddress>0A:1B:2C:3D:4E:5F</macAddress><interfaceType>interface</interfaceType>
        <privateIpAddress>10.1.0.10</privateIpAddress>
        <attachment><attachmentId>eni-attach-1</attachmentId><instanceId>i-1</instanceId>
          <deviceIndex>2</deviceIndex><status>attached</status>
          <deleteOnTermination>false</deleteOnTermination></attachment>
        <tagSet><item><key>quasar.io/node</key><value>node-a</value></item>
                <item><key>team</key><value>net</value></item></tagSet>
        <privateIpAddressesSet>
          <item><privateIpAddress>10.1.0.10</privateIpAddress><primary>true</primary></item>
          <item><privateIpAddress>10.1.0.11</privateIpAddress><primary>false</primary></item>
        </privateIpAddressesSet>
      </item>
      <item>
        <networkInterfaceId>eni-0efa</networkInterfaceId><interfaceType>efa</interfaceType>
        <status>in-use</status><privateIpAddress>10.1.0.20</privateIpAddress>
        <attachment><attachmentId>eni-attach-2</attachmentId><instanceId>i-1</instanceId>
          <deviceIndex>1</deviceIndex><status>attached</status></attachment>
      </item>
      <item>
        <networkInterfaceId>eni-0free</networkInterfaceId><status>available</status>
        <privateIpAddress>10.1.0.30</privateIpAddress>
      </item>
    </networkInterfaceSet>
    <nextToken>page-2</nextToken>
  </DescribeNetworkInterfacesResponse>)";
  auto page = parseDescribeNetworkInterfaces(xml);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->interfaces.size(), 3u);
  EXPECT_EQ(page->next_token, "page-2");
  EXPECT_EQ(page->interfaces[0].mac, "0a:1b:2c:3d:4e:5f");
  EXPECT_EQ(page->interfaces[0].device_index, 2);
  EXPECT_FALSE(page->interfaces[0].delete_on_termination);
  EXPECT_EQ(page->interfaces[0].tags.at(kNodeTag), "node-a");
  EXPECT_EQ(page->interfaces[0].tags.at("team"), "net");
  EXPECT_EQ(page->interfaces[1].interface_type, "efa");
  EXPECT_EQ(page->interfaces[2].attachment_id, "");
  EXPECT_EQ(page->interfaces[2].instance_id, "");
  EXPECT_EQ(page->interfaces[2].device_index, -1);
  EXPECT_EQ(page->interfaces[2].status, "available");
}

TEST(Ec2Xml, DescribeInstancesReferenceExample) {
  auto inst = parseDescribeInstances(testdata("describe_instances.xml"), "i-1234567890abcdef0");
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->id, "i-1234567890abcdef0");
  EXPECT_EQ(inst->type, "t2.micro");
  EXPECT_EQ(inst->availability_zone, "eu-west-1c");
  EXPECT_EQ(inst->subnet_id, "subnet-56f5f633");
  EXPECT_THAT(inst->security_groups, ElementsAre("sg-e4076980"));
  EXPECT_EQ(inst->limits.max_interfaces, 0);  // DescribeInstanceTypes' part

  auto other = parseDescribeInstances(testdata("describe_instances.xml"), "i-0000000000000000f");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
}

TEST(Ec2Xml, DescribeInstancesTakesThePrimaryInterfacesGroups) {
  const char* xml = R"(<DescribeInstancesResponse><reservationSet><item><instancesSet><item>
      <instanceId>i-1</instanceId><instanceType>p4d.24xlarge</instanceType>
      <placement><availabilityZone>us-east-1a</availabilityZone></placement>
      <subnetId>subnet-inst</subnetId>
      <groupSet><item><groupId>sg-all</groupId></item></groupSet>
      <networkInterfaceSet>
        <item><subnetId>subnet-efa</subnetId>
          <groupSet><item><groupId>sg-efa</groupId></item></groupSet>
          <attachment><deviceIndex>0</deviceIndex><networkCardIndex>1</networkCardIndex>
          </attachment></item>
        <item><subnetId>subnet-primary</subnetId>
          <groupSet><item><groupId>sg-a</groupId></item><item><groupId>sg-b</groupId></item>
          </groupSet>
          <attachment><deviceIndex>0</deviceIndex><networkCardIndex>0</networkCardIndex>
          </attachment></item>
      </networkInterfaceSet></item></instancesSet></item></reservationSet>
      </DescribeInstancesResponse>)";
  auto inst = parseDescribeInstances(xml, "i-1");
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->subnet_id, "subnet-primary");
  EXPECT_THAT(inst->security_groups, ElementsAre("sg-a", "sg-b"));
}

TEST(Ec2Xml, DescribeInstanceTypesLimits) {
  auto limits = parseDescribeInstanceTypes(testdata("describe_instance_types.xml"), "m5.large");
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_EQ(limits->max_interfaces, 3);
  EXPECT_EQ(limits->ipv4_per_interface, 10);
  EXPECT_EQ(parseDescribeInstanceTypes(testdata("describe_instance_types.xml"), "m5.xlarge")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  auto broken = parseDescribeInstanceTypes(
      "<DescribeInstanceTypesResponse><instanceTypeSet><item><instanceType>x</instanceType>"
      "<networkInfo><maximumNetworkInterfaces>many</maximumNetworkInterfaces></networkInfo>"
      "</item></instanceTypeSet></DescribeInstanceTypesResponse>",
      "x");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(broken.status().message(), HasSubstr("maximumNetworkInterfaces"));
}

TEST(Ec2Xml, DescribeSubnetsReferenceExample) {
  auto subnet = parseDescribeSubnets(testdata("describe_subnets.xml"), "subnet-6e7f829e");
  ASSERT_TRUE(subnet.ok()) << subnet.status();
  EXPECT_EQ(subnet->id, "subnet-6e7f829e");
  EXPECT_EQ(subnet->cidr, *conf::IpPrefix::parse("10.0.0.0/24"));
  EXPECT_EQ(subnet->availability_zone, "us-east-1a");
  EXPECT_EQ(parseDescribeSubnets(testdata("describe_subnets.xml"), "subnet-1").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(Ec2Xml, CreateNetworkInterfaceReferenceExample) {
  auto ni = parseCreateNetworkInterface(testdata("create_network_interface.xml"));
  ASSERT_TRUE(ni.ok()) << ni.status();
  EXPECT_EQ(ni->id, "eni-1bcb7772");
  EXPECT_EQ(ni->subnet_id, "subnet-a61dafcf");
  EXPECT_EQ(ni->status, "pending");
  EXPECT_EQ(ni->mac, "02:74:b0:70:7f:1a");
  EXPECT_EQ(ni->attachment_id, "");
  EXPECT_EQ(ni->primary_ip, ip("10.0.2.140"));
  EXPECT_THAT(ni->secondary_ips,
              ElementsAre(ip("10.0.2.172"), ip("10.0.2.169"), ip("10.0.2.170"), ip("10.0.2.171")));
}

TEST(Ec2Xml, AttachAssignAndReturnReferenceExamples) {
  auto attachment = parseAttachNetworkInterface(testdata("attach_network_interface.xml"));
  ASSERT_TRUE(attachment.ok()) << attachment.status();
  EXPECT_EQ(*attachment, "eni-attach-d94b09b0");

  auto ips = parseAssignPrivateIpAddresses(testdata("assign_private_ip_addresses.xml"));
  ASSERT_TRUE(ips.ok()) << ips.status();
  EXPECT_THAT(*ips, ElementsAre(ip("10.2.2.7"), ip("10.2.2.5")));

  EXPECT_TRUE(parseReturn("DetachNetworkInterface", testdata("detach_network_interface.xml")).ok());
  // Another action's response, or return false, is not success.
  EXPECT_EQ(parseReturn("DeleteNetworkInterface", testdata("detach_network_interface.xml")).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(parseReturn("CreateTags",
                        "<CreateTagsResponse><return>false</return>"
                        "</CreateTagsResponse>")
                .code(),
            absl::StatusCode::kInternal);
}

TEST(Ec2Xml, MalformedResponsesAreInternalErrorsNamingTheAction) {
  auto not_xml = parseAttachNetworkInterface("<html><body>502 Bad Gateway");
  EXPECT_EQ(not_xml.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(not_xml.status().message(), HasSubstr("AttachNetworkInterface"));
  auto bad_ip = parseAssignPrivateIpAddresses(
      "<AssignPrivateIpAddressesResponse><assignedPrivateIpAddressesSet><item>"
      "<privateIpAddress>10.0.0.300</privateIpAddress></item></assignedPrivateIpAddressesSet>"
      "</AssignPrivateIpAddressesResponse>");
  EXPECT_EQ(bad_ip.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad_ip.status().message(), HasSubstr("10.0.0.300"));
  EXPECT_EQ(parseCreateNetworkInterface("<CreateNetworkInterfaceResponse/>").status().code(),
            absl::StatusCode::kInternal);
}

TEST(Ec2Xml, ErrorDocumentReferenceExample) {
  auto e = parseEc2Error(testdata("error_not_found.xml"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->code, "InvalidInstanceID.NotFound");
  EXPECT_EQ(e->message, "The instance ID 'i-1a2b3c4d' does not exist");
  EXPECT_EQ(e->request_id, "ea966190-f9aa-478e-9ede-example");

  absl::Status s = ec2ErrorStatus("DescribeInstances", 400, testdata("error_not_found.xml"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "EC2 DescribeInstances: InvalidInstanceID.NotFound: The instance ID 'i-1a2b3c4d' "
            "does not exist (HTTP 400, request ea966190-f9aa-478e-9ede-example)");
}

TEST(Ec2Xml, ErrorCodesMapToStatusCodes) {
  struct Case {
    const char* code;
    int http;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {"RequestLimitExceeded", 503, absl::StatusCode::kUnavailable},
      {"RequestLimitExceeded", 400, absl::StatusCode::kUnavailable},
      {"Throttling", 400, absl::StatusCode::kUnavailable},
      {"InternalError", 500, absl::StatusCode::kUnavailable},
      {"ServiceUnavailable", 503, absl::StatusCode::kUnavailable},
      {"SomethingNew", 502, absl::StatusCode::kUnavailable},
      {"AttachmentLimitExceeded", 400, absl::StatusCode::kResourceExhausted},
      {"PrivateIpAddressLimitExceeded", 400, absl::StatusCode::kResourceExhausted},
      {"InsufficientFreeAddressesInSubnet", 400, absl::StatusCode::kResourceExhausted},
      {"InvalidNetworkInterfaceID.NotFound", 400, absl::StatusCode::kNotFound},
      {"InvalidAttachmentID.NotFound", 400, absl::StatusCode::kNotFound},
      {"InvalidSubnetID.NotFound", 400, absl::StatusCode::kNotFound},
      {"AuthFailure", 401, absl::StatusCode::kPermissionDenied},
      {"UnauthorizedOperation", 403, absl::StatusCode::kPermissionDenied},
      {"SignatureDoesNotMatch", 403, absl::StatusCode::kPermissionDenied},
      {"RequestExpired", 400, absl::StatusCode::kPermissionDenied},
      {"InvalidParameterValue", 400, absl::StatusCode::kInvalidArgument},
      {"InvalidParameterCombination", 400, absl::StatusCode::kInvalidArgument},
      {"InvalidNetworkInterfaceId.Malformed", 400, absl::StatusCode::kInvalidArgument},
      {"MissingParameter", 400, absl::StatusCode::kInvalidArgument},
      {"IdempotentParameterMismatch", 400, absl::StatusCode::kInvalidArgument},
      {"IncorrectState", 400, absl::StatusCode::kFailedPrecondition},
      {"IncorrectInstanceState", 400, absl::StatusCode::kFailedPrecondition},
      {"InvalidNetworkInterface.InUse", 400, absl::StatusCode::kFailedPrecondition},
      {"SomethingNew", 400, absl::StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ec2ErrorCode(c.code, c.http), c.want) << c.code << " HTTP " << c.http;
  }
}

TEST(Ec2Xml, NonEc2ErrorBodiesMapByHttpStatus) {
  absl::Status gateway = ec2ErrorStatus("AssignPrivateIpAddresses", 502, "<html>Bad Gateway");
  EXPECT_EQ(gateway.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(gateway.message(), HasSubstr("HTTP 502"));
  EXPECT_EQ(ec2ErrorStatus("X", 403, "denied").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ec2ErrorStatus("X", 429, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ec2ErrorStatus("X", 404, "").code(), absl::StatusCode::kUnknown);
  // A long body is cut, and bytes that are not UTF-8 do not reach the message.
  absl::Status long_body = ec2ErrorStatus("X", 500, std::string(5000, 'x') + "\xff");
  EXPECT_LT(long_body.message().size(), 300u);
}

}  // namespace
}  // namespace quasar::ipam::cloud
