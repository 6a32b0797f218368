// The EC2 provider's requests (form bodies, signing) and how it reads the answers.
#include "ipam/cloud/ec2_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ipam/cloud/ec2_test_fixture.h"

namespace quasar::ipam::cloud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::quasar::ipam::cloud::ec2test;  // NOLINT: the fixture's helpers

TEST(Ec2Provider, RequestBodiesAreEc2sFormEncoding) {
  Fixture f;
  f.answer("CreateNetworkInterface", 200, testdata("create_network_interface.xml"));
  f.answer("AttachNetworkInterface", 200, testdata("attach_network_interface.xml"));
  f.ec2["DetachNetworkInterface"] = [](const auto&) {
    return HttpResponse{200, testdata("detach_network_interface.xml")};
  };
  f.answer("ModifyNetworkInterfaceAttribute", 200,
           "<ModifyNetworkInterfaceAttributeResponse><return>true</return>"
           "</ModifyNetworkInterfaceAttributeResponse>");
  f.answer(
      "DeleteNetworkInterface", 200,
      "<DeleteNetworkInterfaceResponse><return>true</return></DeleteNetworkInterfaceResponse>");
  f.answer("CreateTags", 200, "<CreateTagsResponse><return>true</return></CreateTagsResponse>");
  f.answer("AssignPrivateIpAddresses", 200, testdata("assign_private_ip_addresses.xml"));
  f.answer("UnassignPrivateIpAddresses", 200,
           "<UnassignPrivateIpAddressesResponse><return>true</return>"
           "</UnassignPrivateIpAddressesResponse>");
  f.answer("DescribeNetworkInterfaces", 200, testdata("describe_network_interfaces.xml"));
  f.answer("DescribeSubnets", 200, testdata("describe_subnets.xml"));
  auto p = f.provider();

  CreateInterfaceRequest create;
  create.subnet_id = "subnet-a61dafcf";
  create.security_groups = {"sg-a", "sg-b"};
  create.description = "quasar node-a";
  create.tags = {{kNodeTag, "node-a"}, {"team", "net&ops"}};
  create.client_token = "quasar-node-a-eni-1";
  auto eni = p->createInterface(create);
  ASSERT_TRUE(eni.ok()) << eni.status();
  EXPECT_EQ(eni->id, "eni-1bcb7772");
  ASSERT_TRUE(p->attachInterface("eni-1bcb7772", "i-1", 1).ok());
  ASSERT_TRUE(p->setDeleteOnTermination("eni-1bcb7772", "eni-attach-d94b09b0").ok());
  ASSERT_TRUE(p->detachInterface("eni-attach-d94b09b0", true).ok());
  ASSERT_TRUE(p->deleteInterface("eni-1bcb7772").ok());
  ASSERT_TRUE(p->tagInterface("eni-1", {{"b", "2"}, {"a", "1 2"}}).ok());
  auto ips = p->assignPrivateIps("eni-1", 2);
  ASSERT_TRUE(ips.ok()) << ips.status();
  EXPECT_THAT(*ips, ElementsAre(ip("10.2.2.7"), ip("10.2.2.5")));
  ASSERT_TRUE(p->unassignPrivateIps("eni-1", {ip("10.2.2.7"), ip("10.2.2.5")}).ok());
  ASSERT_TRUE(p->listInterfaces({"i-1", std::make_pair(std::string(kNodeTag), "node-a")}).ok());
  ASSERT_TRUE(p->listInterfaces({"", std::make_pair(std::string("team"), "")}).ok());
  auto subnet = p->describeSubnet("subnet-6e7f829e");
  ASSERT_TRUE(subnet.ok()) << subnet.status();

  EXPECT_THAT(
      f.bodies(),
      ElementsAre(
          absl::StrCat("Action=CreateNetworkInterface&", kV,
                       "&SubnetId=subnet-a61dafcf&Description=quasar%20node-a"
                       "&SecurityGroupId.1=sg-a&SecurityGroupId.2=sg-b"
                       "&TagSpecification.1.ResourceType=network-interface"
                       "&TagSpecification.1.Tag.1.Key=quasar.io%2Fnode"
                       "&TagSpecification.1.Tag.1.Value=node-a"
                       "&TagSpecification.1.Tag.2.Key=team&TagSpecification.1.Tag.2.Value=net%26ops"
                       "&ClientToken=quasar-node-a-eni-1"),
          absl::StrCat("Action=AttachNetworkInterface&", kV,
                       "&NetworkInterfaceId=eni-1bcb7772&InstanceId=i-1&DeviceIndex=1"),
          absl::StrCat("Action=ModifyNetworkInterfaceAttribute&", kV,
                       "&NetworkInterfaceId=eni-1bcb7772&Attachment.AttachmentId=eni-attach-d94b09b0"
                       "&Attachment.DeleteOnTermination=true"),
          absl::StrCat("Action=DetachNetworkInterface&", kV,
                       "&AttachmentId=eni-attach-d94b09b0&Force=true"),
          absl::StrCat("Action=DeleteNetworkInterface&", kV, "&NetworkInterfaceId=eni-1bcb7772"),
          absl::StrCat(
              "Action=CreateTags&", kV,
              "&ResourceId.1=eni-1&Tag.1.Key=a&Tag.1.Value=1%202&Tag.2.Key=b&Tag.2.Value=2"),
          absl::StrCat("Action=AssignPrivateIpAddresses&", kV,
                       "&NetworkInterfaceId=eni-1&SecondaryPrivateIpAddressCount=2"),
          absl::StrCat("Action=UnassignPrivateIpAddresses&", kV,
                       "&NetworkInterfaceId=eni-1&PrivateIpAddress.1=10.2.2.7"
                       "&PrivateIpAddress.2=10.2.2.5"),
          absl::StrCat("Action=DescribeNetworkInterfaces&", kV,
                       "&Filter.1.Name=attachment.instance-id&Filter.1.Value.1=i-1"
                       "&Filter.2.Name=tag%3Aquasar.io%2Fnode&Filter.2.Value.1=node-a"
                       "&MaxResults=1000"),
          absl::StrCat("Action=DescribeNetworkInterfaces&", kV,
                       "&Filter.1.Name=tag-key&Filter.1.Value.1=team&MaxResults=1000"),
          absl::StrCat("Action=DescribeSubnets&", kV, "&SubnetId.1=subnet-6e7f829e")));
}

TEST(Ec2Provider, RequestsAreSignedForEc2InTheRegion) {
  Fixture f;
  f.creds.session_token = "session-token";
  f.answer("DescribeSubnets", 200, testdata("describe_subnets.xml"));
  ASSERT_TRUE(f.provider()->describeSubnet("subnet-9d4a7b6c").ok());
  const HttpRequest r = f.transport->requests().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, std::string(kEndpoint) + "/");
  EXPECT_EQ(headerOf(r, "Host"), "10.99.0.2:8080");
  EXPECT_EQ(headerOf(r, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(headerOf(r, "X-Amz-Date"), "20240501T120000Z");
  EXPECT_EQ(headerOf(r, "X-Amz-Security-Token"), "session-token");
  // The signature is the one the signer gives for exactly what was sent.
  SigningRequest sr;
  sr.method = "POST";
  sr.host = "10.99.0.2:8080";
  sr.headers = {{"Content-Type", headerOf(r, "Content-Type")}};
  sr.payload = r.body;
  EXPECT_EQ(headerOf(r, "Authorization"),
            signRequest(sr, f.creds, {"eu-west-1", "ec2", f.now}).authorization);
  EXPECT_THAT(headerOf(r, "Authorization"),
              HasSubstr("Credential=AKIDTEST/20240501/eu-west-1/ec2/aws4_request, "
                        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
}

TEST(Ec2Provider, DescribeInstanceUsesImdsOnceThenDescribeInstancesAndTypes) {
  Fixture f;
  f.answer("DescribeInstances", 200, testdata("describe_instances.xml"));
  f.answer("DescribeInstanceTypes", 200,
           "<DescribeInstanceTypesResponse><instanceTypeSet><item><instanceType>t2.micro"
           "</instanceType><networkInfo><maximumNetworkInterfaces>2</maximumNetworkInterfaces>"
           "<ipv4AddressesPerInterface>2</ipv4AddressesPerInterface></networkInfo></item>"
           "</instanceTypeSet></DescribeInstanceTypesResponse>");
  auto p = f.provider();
  auto inst = p->describeInstance();
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->id, "i-1234567890abcdef0");
  EXPECT_EQ(inst->type, "t2.micro");
  EXPECT_EQ(inst->subnet_id, "subnet-56f5f633");
  EXPECT_THAT(inst->security_groups, ElementsAre("sg-e4076980"));
  EXPECT_EQ(inst->limits.max_interfaces, 2);
  EXPECT_EQ(inst->limits.ipv4_per_interface, 2);
  EXPECT_THAT(
      f.bodies(),
      ElementsAre(
          absl::StrCat("Action=DescribeInstances&", kV, "&InstanceId.1=i-1234567890abcdef0"),
          absl::StrCat("Action=DescribeInstanceTypes&", kV, "&InstanceType.1=t2.micro")));
  ASSERT_TRUE(p->describeInstance().ok());
  EXPECT_EQ(f.imds_calls, 2);  // token + instance-id, the first time only
}

TEST(Ec2Provider, ListInterfacesFollowsPages) {
  Fixture f;
  f.ec2["DescribeNetworkInterfaces"] = [](const std::map<std::string, std::string>& fields) {
    if (!fields.contains("NextToken")) {
      return HttpResponse{
          200,
          "<DescribeNetworkInterfacesResponse><networkInterfaceSet><item>"
          "<networkInterfaceId>eni-p1</networkInterfaceId></item></networkInterfaceSet>"
          "<nextToken>tok/2=</nextToken></DescribeNetworkInterfacesResponse>"};
    }
    return HttpResponse{200, testdata("describe_network_interfaces.xml")};
  };
  auto list = f.provider()->listInterfaces({"i-1", std::nullopt});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, "eni-p1");
  EXPECT_EQ((*list)[2].id, "eni-a66ed5cf");
  ASSERT_EQ(f.bodies().size(), 2u);
  EXPECT_THAT(f.bodies()[1], HasSubstr("&MaxResults=1000&NextToken=tok%2F2%3D"));
}

TEST(Ec2Provider, UnassignSkipsAddressesTheInterfaceNoLongerHas) {
  Fixture f;
  std::vector<std::string> unassigned;
  f.ec2["UnassignPrivateIpAddresses"] = [&](const std::map<std::string, std::string>& fields) {
    if (fields.contains("PrivateIpAddress.2")) {
      return HttpResponse{400, errorXml("InvalidParameterValue",
                                        "Some of the specified addresses are not assigned to "
                                        "interface eni-0f62d866")};
    }
    unassigned.push_back(fields.at("PrivateIpAddress.1"));
    return HttpResponse{200,
                        "<UnassignPrivateIpAddressesResponse><return>true</return>"
                        "</UnassignPrivateIpAddressesResponse>"};
  };
  // eni-0f62d866 has 10.0.0.148 and 10.0.0.150 (the reference example).
  f.ec2["DescribeNetworkInterfaces"] = [](const std::map<std::string, std::string>& fields) {
    EXPECT_EQ(fields.at("NetworkInterfaceId.1"), "eni-0f62d866");
    EXPECT_FALSE(fields.contains("MaxResults"));  // EC2 refuses it beside ids
    auto xml = testdata("describe_network_interfaces.xml");
    return HttpResponse{200, xml.substr(0, xml.find("<item>\n         <networkInterfaceId>"
                                                    "eni-a66ed5cf")) +
                                 "</networkInterfaceSet></DescribeNetworkInterfacesResponse>"};
  };
  auto p = f.provider();
  ASSERT_TRUE(p->unassignPrivateIps("eni-0f62d866", {ip("10.0.0.99"), ip("10.0.0.150")}).ok());
  EXPECT_THAT(unassigned, ElementsAre("10.0.0.150"));

  // None left: nothing more to send.
  unassigned.clear();
  ASSERT_TRUE(p->unassignPrivateIps("eni-0f62d866", {ip("10.0.0.98"), ip("10.0.0.99")}).ok());
  EXPECT_TRUE(unassigned.empty());
  EXPECT_TRUE(p->unassignPrivateIps("eni-0f62d866", {}).ok());
}

TEST(Ec2Provider, ConfigurationChecks) {
  EXPECT_EQ(defaultEc2Endpoint("us-east-1"), "https://ec2.us-east-1.amazonaws.com");
  EXPECT_EQ(defaultEc2Endpoint("cn-north-1"), "https://ec2.cn-north-1.amazonaws.com.cn");
  Fixture f;
  auto creds = std::make_shared<StaticCredentialSource>(f.creds);
  EXPECT_EQ(Ec2Provider::create(optionsFor("eu-west-1", "ftp://x"), f.transport, creds, nullptr,
                                f.clock())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ec2Provider::create(optionsFor("eu-west-1", "https://h/path"), f.transport, creds,
                                nullptr, f.clock())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ec2Provider::create(optionsFor("", ""), f.transport, creds, nullptr, f.clock())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.provider()->assignPrivateIps("eni-1", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The production wiring with region and keys in the environment contacts nothing to start.
  auto prod = Ec2Provider::create(Ec2Options{}, [](const char* name) -> std::optional<std::string> {
    if (std::string(name) == "AWS_REGION") return "eu-west-1";
    if (std::string(name) == "AWS_ACCESS_KEY_ID") return "A";
    if (std::string(name) == "AWS_SECRET_ACCESS_KEY") return "S";
    return std::nullopt;
  });
  EXPECT_TRUE(prod.ok()) << prod.status();
}

}  // namespace
}  // namespace quasar::ipam::cloud
