#include "ipam/cloud/ec2_xml.h"

#include <pugixml.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::ipam::cloud {
namespace {

std::string text(const pugi::xml_node& node, const char* child) {
  return std::string(absl::StripAsciiWhitespace(node.child(child).text().get()));
}

// Parses `xml` into `doc` and returns its root, which must be <action>Response.
absl::StatusOr<pugi::xml_node> loadResponse(pugi::xml_document& doc, absl::string_view action,
                                            absl::string_view xml) {
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size());
  if (!r) {
    return absl::InternalError(absl::StrCat(
        "EC2 ", action, ": response is not XML: ", r.description(), " at offset ", r.offset));
  }
  pugi::xml_node root = doc.document_element();
  const std::string want = absl::StrCat(action, "Response");
  if (want != root.name()) {
    return absl::InternalError(
        absl::StrCat("EC2 ", action, ": response is <", root.name(), ">, want <", want, ">"));
  }
  return root;
}

absl::Status missing(absl::string_view action, absl::string_view what) {
  return absl::InternalError(absl::StrCat("EC2 ", action, ": response has no ", what));
}

absl::StatusOr<conf::IpAddress> address(absl::string_view action, const std::string& s) {
  auto ip = conf::IpAddress::parse(s);
  if (!ip.ok()) {
    return absl::InternalError(
        absl::StrCat("EC2 ", action, ": bad address \"", conf::toValidUtf8(s), "\""));
  }
  return *ip;
}

absl::StatusOr<int> number(absl::string_view action, const pugi::xml_node& node,
                           const char* child) {
  int v = 0;
  const std::string s = text(node, child);
  if (!absl::SimpleAtoi(s, &v)) {
    return absl::InternalError(absl::StrCat("EC2 ", action, ": <", child, "> is \"",
                                            conf::toValidUtf8(s), "\", not a number"));
  }
  return v;
}

// A NetworkInterface element (DescribeNetworkInterfaces' items, CreateNetworkInterface's).
absl::StatusOr<NetworkInterface> parseInterface(absl::string_view action, const pugi::xml_node& n) {
  NetworkInterface ni;
  ni.id = text(n, "networkInterfaceId");
  if (ni.id.empty()) return missing(action, "networkInterfaceId");
  ni.mac = absl::AsciiStrToLower(text(n, "macAddress"));
  ni.subnet_id = text(n, "subnetId");
  ni.status = text(n, "status");
  ni.interface_type = text(n, "interfaceType");
  if (ni.interface_type.empty()) ni.interface_type = "interface";
  ni.description = text(n, "description");
  if (pugi::xml_node att = n.child("attachment");
      att && text(att, "status") != "detached" && !text(att, "attachmentId").empty()) {
    ni.attachment_id = text(att, "attachmentId");
    ni.instance_id = text(att, "instanceId");
    auto index = number(action, att, "deviceIndex");
    if (!index.ok()) return index.status();
    ni.device_index = *index;
    ni.delete_on_termination = text(att, "deleteOnTermination") == "true";
  }
  if (std::string primary = text(n, "privateIpAddress"); !primary.empty()) {
    auto ip = address(action, primary);
    if (!ip.ok()) return ip.status();
    ni.primary_ip = *ip;
  }
  for (pugi::xml_node item : n.child("privateIpAddressesSet").children("item")) {
    auto ip = address(action, text(item, "privateIpAddress"));
    if (!ip.ok()) return ip.status();
    if (text(item, "primary") == "true") {
      ni.primary_ip = *ip;
    } else {
      ni.secondary_ips.push_back(*ip);
    }
  }
  for (pugi::xml_node item : n.child("tagSet").children("item")) {
    ni.tags[text(item, "key")] = text(item, "value");
  }
  return ni;
}

}  // namespace

absl::StatusOr<Ec2Error> parseEc2Error(absl::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return absl::InvalidArgumentError("not XML");
  }
  pugi::xml_node root = doc.child("Response");
  pugi::xml_node error = root.child("Errors").child("Error");
  if (!error) return absl::InvalidArgumentError("not an EC2 error document");
  Ec2Error e{text(error, "Code"), text(error, "Message"), text(root, "RequestID")};
  if (e.code.empty()) return absl::InvalidArgumentError("EC2 error document without a code");
  return e;
}

absl::StatusCode ec2ErrorCode(absl::string_view code, int http_status) {
  static constexpr absl::string_view kUnavailable[] = {
      "RequestLimitExceeded", "Throttling",  "ThrottlingException", "RequestThrottled",
      "ServiceUnavailable",   "Unavailable", "InternalError",       "InternalFailure"};
  static constexpr absl::string_view kExhausted[] = {
      "AttachmentLimitExceeded", "PrivateIpAddressLimitExceeded",
      "InsufficientFreeAddressesInSubnet", "NetworkInterfaceLimitExceeded"};
  static constexpr absl::string_view kDenied[] = {
      "AuthFailure",         "UnauthorizedOperation", "SignatureDoesNotMatch",
      "RequestExpired",      "InvalidClientTokenId",  "MissingAuthenticationToken",
      "IncompleteSignature", "OptInRequired",         "Blocked"};
  static constexpr absl::string_view kPrecondition[] = {"IncorrectState", "IncorrectInstanceState",
                                                        "InvalidNetworkInterface.InUse",
                                                        "DependencyViolation"};
  auto in = [code](const auto& list) {
    for (absl::string_view c : list) {
      if (c == code) return true;
    }
    return false;
  };
  if (in(kUnavailable) || http_status >= 500) return absl::StatusCode::kUnavailable;
  if (in(kExhausted)) return absl::StatusCode::kResourceExhausted;
  if (absl::EndsWith(code, ".NotFound")) return absl::StatusCode::kNotFound;
  if (in(kDenied)) return absl::StatusCode::kPermissionDenied;
  if (in(kPrecondition)) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(code, "Invalid") || absl::EndsWith(code, ".Malformed") ||
      code == "MissingParameter" || code == "UnknownParameter" || code == "ValidationError" ||
      code == "IdempotentParameterMismatch") {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status ec2ErrorStatus(absl::string_view action, int http_status, absl::string_view body) {
  auto e = parseEc2Error(body);
  if (e.ok()) {
    return absl::Status(ec2ErrorCode(e->code, http_status),
                        absl::StrCat("EC2 ", action, ": ", e->code, ": ", e->message, " (HTTP ",
                                     http_status, ", request ", e->request_id, ")"));
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (http_status >= 500 || http_status == 429) {
    code = absl::StatusCode::kUnavailable;
  } else if (http_status == 401 || http_status == 403) {
    code = absl::StatusCode::kPermissionDenied;
  }
  constexpr size_t kMaxBody = 200;
  return absl::Status(code, absl::StrCat("EC2 ", action, ": HTTP ", http_status, ": ",
                                         conf::toValidUtf8(body.substr(0, kMaxBody))));
}

absl::StatusOr<Instance> parseDescribeInstances(absl::string_view xml,
                                                const std::string& instance_id) {
  constexpr absl::string_view kAction = "DescribeInstances";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  for (pugi::xml_node res : root->child("reservationSet").children("item")) {
    for (pugi::xml_node n : res.child("instancesSet").children("item")) {
      if (text(n, "instanceId") != instance_id) continue;
      Instance inst;
      inst.id = instance_id;
      inst.type = text(n, "instanceType");
      if (inst.type.empty()) return missing(kAction, "instanceType");
      inst.availability_zone = text(n.child("placement"), "availabilityZone");
      // The primary interface: device 0 on network card 0. Its subnet and groups are the ones
      // new interfaces get by default; the instance-level fields are the same on a single-ENI
      // instance and the fallback.
      pugi::xml_node primary;
      for (pugi::xml_node ni : n.child("networkInterfaceSet").children("item")) {
        pugi::xml_node att = ni.child("attachment");
        const std::string card = text(att, "networkCardIndex");
        if (text(att, "deviceIndex") == "0" && (card.empty() || card == "0")) primary = ni;
      }
      pugi::xml_node groups_of = primary ? primary : n;
      inst.subnet_id = text(groups_of, "subnetId");
      if (inst.subnet_id.empty()) inst.subnet_id = text(n, "subnetId");
      for (pugi::xml_node g : groups_of.child("groupSet").children("item")) {
        inst.security_groups.push_back(text(g, "groupId"));
      }
      return inst;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("EC2 ", kAction, ": instance ", instance_id, " is not in the response"));
}

absl::StatusOr<InstanceLimits> parseDescribeInstanceTypes(absl::string_view xml,
                                                          const std::string& instance_type) {
  constexpr absl::string_view kAction = "DescribeInstanceTypes";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  for (pugi::xml_node n : root->child("instanceTypeSet").children("item")) {
    if (text(n, "instanceType") != instance_type) continue;
    pugi::xml_node net = n.child("networkInfo");
    auto enis = number(kAction, net, "maximumNetworkInterfaces");
    if (!enis.ok()) return enis.status();
    auto ips = number(kAction, net, "ipv4AddressesPerInterface");
    if (!ips.ok()) return ips.status();
    return InstanceLimits{*enis, *ips};
  }
  return absl::NotFoundError(
      absl::StrCat("EC2 ", kAction, ": instance type ", instance_type, " is not in the response"));
}

absl::StatusOr<Subnet> parseDescribeSubnets(absl::string_view xml, const std::string& subnet_id) {
  constexpr absl::string_view kAction = "DescribeSubnets";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  for (pugi::xml_node n : root->child("subnetSet").children("item")) {
    if (text(n, "subnetId") != subnet_id) continue;
    const std::string cidr = text(n, "cidrBlock");
    auto prefix = conf::IpPrefix::parse(cidr);
    if (!prefix.ok()) {
      return absl::InternalError(
          absl::StrCat("EC2 ", kAction, ": bad cidrBlock \"", conf::toValidUtf8(cidr), "\""));
    }
    return Subnet{subnet_id, prefix->network(), text(n, "availabilityZone")};
  }
  return absl::NotFoundError(
      absl::StrCat("EC2 ", kAction, ": subnet ", subnet_id, " is not in the response"));
}

absl::StatusOr<InterfacePage> parseDescribeNetworkInterfaces(absl::string_view xml) {
  constexpr absl::string_view kAction = "DescribeNetworkInterfaces";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  InterfacePage page;
  for (pugi::xml_node n : root->child("networkInterfaceSet").children("item")) {
    auto ni = parseInterface(kAction, n);
    if (!ni.ok()) return ni.status();
    page.interfaces.push_back(*std::move(ni));
  }
  page.next_token = text(*root, "nextToken");
  return page;
}

absl::StatusOr<NetworkInterface> parseCreateNetworkInterface(absl::string_view xml) {
  constexpr absl::string_view kAction = "CreateNetworkInterface";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  pugi::xml_node n = root->child("networkInterface");
  if (!n) return missing(kAction, "networkInterface");
  return parseInterface(kAction, n);
}

absl::StatusOr<std::string> parseAttachNetworkInterface(absl::string_view xml) {
  constexpr absl::string_view kAction = "AttachNetworkInterface";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  std::string id = text(*root, "attachmentId");
  if (id.empty()) return missing(kAction, "attachmentId");
  return id;
}

absl::StatusOr<std::vector<conf::IpAddress>> parseAssignPrivateIpAddresses(absl::string_view xml) {
  constexpr absl::string_view kAction = "AssignPrivateIpAddresses";
  pugi::xml_document doc;
  auto root = loadResponse(doc, kAction, xml);
  if (!root.ok()) return root.status();
  std::vector<conf::IpAddress> ips;
  for (pugi::xml_node item : root->child("assignedPrivateIpAddressesSet").children("item")) {
    auto ip = address(kAction, text(item, "privateIpAddress"));
    if (!ip.ok()) return ip.status();
    ips.push_back(*ip);
  }
  return ips;
}

absl::Status parseReturn(absl::string_view action, absl::string_view xml) {
  pugi::xml_document doc;
  auto root = loadResponse(doc, action, xml);
  if (!root.ok()) return root.status();
  if (text(*root, "return") != "true") {
    return absl::InternalError(absl::StrCat("EC2 ", action, ": <return> is not true"));
  }
  return absl::OkStatus();
}

}  // namespace quasar::ipam::cloud
