#include "ipam/cloud/ec2_provider.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ipam/cloud/ec2_xml.h"

namespace quasar::ipam::cloud {
namespace {

constexpr Idempotency kIdempotent = Idempotency::kIdempotent;
constexpr Idempotency kNotIdempotent = Idempotency::kNotIdempotent;

// Largest page DescribeNetworkInterfaces hands out.
constexpr char kMaxResults[] = "1000";

// Prefix.N.Key / Prefix.N.Value for each tag, N from 1.
void addTags(Params& params, const std::string& prefix,
             const std::map<std::string, std::string>& tags) {
  int n = 0;
  for (const auto& [key, value] : tags) {
    ++n;
    params.emplace_back(absl::StrCat(prefix, n, ".Key"), key);
    params.emplace_back(absl::StrCat(prefix, n, ".Value"), value);
  }
}

}  // namespace

std::string defaultEc2Endpoint(const std::string& region) {
  const char* suffix = absl::StartsWith(region, "cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return absl::StrCat("https://ec2.", region, suffix);
}

absl::StatusOr<std::unique_ptr<Ec2Provider>> Ec2Provider::create(Ec2Options options,
                                                                 EnvLookup env) {
  CurlTransportOptions curl;
  curl.ca_file = options.ca_file;
  std::shared_ptr<HttpTransport> transport = makeCurlTransport(curl);
  Clock clock = systemClock();
  auto imds = std::make_shared<ImdsClient>(transport, ImdsOptions{options.imds_endpoint}, clock);
  if (options.region.empty()) {
    if (auto r = regionFromEnvironment(env)) {
      options.region = *r;
    } else {
      auto region = imds->region();
      if (!region.ok()) {
        return absl::Status(region.status().code(),
                            absl::StrCat("ec2: no region configured, none in AWS_REGION or "
                                         "AWS_DEFAULT_REGION, and IMDS: ",
                                         region.status().message()));
      }
      options.region = *region;
    }
  }
  auto credentials = defaultCredentialSource(env, imds, clock);
  if (!credentials.ok()) return credentials.status();
  return create(std::move(options), std::move(transport), *std::move(credentials), std::move(imds),
                std::move(clock));
}

absl::StatusOr<std::unique_ptr<Ec2Provider>> Ec2Provider::create(
    Ec2Options options, std::shared_ptr<HttpTransport> transport,
    std::shared_ptr<CredentialSource> credentials, std::shared_ptr<ImdsClient> imds, Clock clock) {
  if (options.region.empty()) return absl::InvalidArgumentError("ec2: no region");
  if (options.endpoint.empty()) options.endpoint = defaultEc2Endpoint(options.region);
  QueryOptions q;
  q.endpoint = options.endpoint;
  q.region = options.region;
  q.call_timeout = options.call_timeout;
  q.max_attempts = options.max_attempts;
  q.backoff_base = options.backoff_base;
  q.backoff_max = options.backoff_max;
  auto query = Ec2QueryClient::create(std::move(q), std::move(transport), std::move(credentials),
                                      std::move(clock));
  if (!query.ok()) return query.status();
  return std::unique_ptr<Ec2Provider>(
      new Ec2Provider(std::move(options), *std::move(query), std::move(imds)));
}

Ec2Provider::Ec2Provider(Ec2Options options, std::unique_ptr<Ec2QueryClient> query,
                         std::shared_ptr<ImdsClient> imds)
    : options_(std::move(options)), query_(std::move(query)), imds_(std::move(imds)) {}

absl::Time Ec2Provider::deadline() const { return query_->clock().now() + options_.deadline; }

std::string Ec2Provider::newClientToken() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = "quasar-";
  for (int i = 0; i < 32; ++i) {
    token.push_back(kHex[std::clamp(static_cast<int>(query_->clock().random() * 16), 0, 15)]);
  }
  return token;
}

absl::StatusOr<std::string> Ec2Provider::instanceId(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (!instance_id_.empty()) return instance_id_;
  }
  auto id = query_->withRetries("IMDS instance-id", kIdempotent, deadline,
                                [this](absl::Duration) { return imds_->instanceId(); });
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  instance_id_ = *id;
  return instance_id_;
}

absl::StatusOr<Instance> Ec2Provider::describeInstance() {
  const absl::Time until = deadline();
  auto id = instanceId(until);
  if (!id.ok()) return id.status();
  auto xml = query_->call("DescribeInstances", {{"InstanceId.1", *id}}, kIdempotent, until);
  if (!xml.ok()) return xml.status();
  auto instance = parseDescribeInstances(*xml, *id);
  if (!instance.ok()) return instance.status();
  auto types = query_->call("DescribeInstanceTypes", {{"InstanceType.1", instance->type}},
                            kIdempotent, until);
  if (!types.ok()) return types.status();
  auto limits = parseDescribeInstanceTypes(*types, instance->type);
  if (!limits.ok()) return limits.status();
  instance->limits = *limits;
  return instance;
}

absl::StatusOr<Subnet> Ec2Provider::describeSubnet(const std::string& subnet_id) {
  auto xml = query_->call("DescribeSubnets", {{"SubnetId.1", subnet_id}}, kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseDescribeSubnets(*xml, subnet_id);
}

absl::StatusOr<std::vector<NetworkInterface>> Ec2Provider::describeInterfaces(const Params& filters,
                                                                              absl::Time deadline) {
  std::vector<NetworkInterface> out;
  std::string next;
  do {
    Params params = filters;
    // EC2 refuses MaxResults beside NetworkInterfaceId.N (InvalidParameterCombination).
    const bool by_id =
        !filters.empty() && absl::StartsWith(filters[0].first, "NetworkInterfaceId.");
    if (!by_id) params.emplace_back("MaxResults", kMaxResults);
    if (!next.empty()) params.emplace_back("NextToken", next);
    auto xml = query_->call("DescribeNetworkInterfaces", params, kIdempotent, deadline);
    if (!xml.ok()) return xml.status();
    auto page = parseDescribeNetworkInterfaces(*xml);
    if (!page.ok()) return page.status();
    std::move(page->interfaces.begin(), page->interfaces.end(), std::back_inserter(out));
    next = page->next_token;
  } while (!next.empty());
  return out;
}

absl::StatusOr<std::vector<NetworkInterface>> Ec2Provider::listInterfaces(
    const InterfaceFilter& filter) {
  Params params;
  int n = 0;
  auto add = [&params, &n](const std::string& name, const std::string& value) {
    ++n;
    params.emplace_back(absl::StrCat("Filter.", n, ".Name"), name);
    params.emplace_back(absl::StrCat("Filter.", n, ".Value.1"), value);
  };
  if (!filter.attached_to.empty()) add("attachment.instance-id", filter.attached_to);
  if (filter.tag.has_value()) {
    if (filter.tag->second.empty()) {
      add("tag-key", filter.tag->first);
    } else {
      add("tag:" + filter.tag->first, filter.tag->second);
    }
  }
  return describeInterfaces(params, deadline());
}

absl::StatusOr<NetworkInterface> Ec2Provider::createInterface(
    const CreateInterfaceRequest& request) {
  Params params = {{"SubnetId", request.subnet_id}};
  if (!request.description.empty()) params.emplace_back("Description", request.description);
  for (size_t i = 0; i < request.security_groups.size(); ++i) {
    params.emplace_back(absl::StrCat("SecurityGroupId.", i + 1), request.security_groups[i]);
  }
  if (!request.tags.empty()) {
    params.emplace_back("TagSpecification.1.ResourceType", "network-interface");
    addTags(params, "TagSpecification.1.Tag.", request.tags);
  }
  params.emplace_back("ClientToken",
                      request.client_token.empty() ? newClientToken() : request.client_token);
  auto xml = query_->call("CreateNetworkInterface", params, kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseCreateNetworkInterface(*xml);
}

absl::StatusOr<std::string> Ec2Provider::attachInterface(const std::string& interface_id,
                                                         const std::string& instance_id,
                                                         int device_index) {
  auto xml = query_->call("AttachNetworkInterface",
                          {{"NetworkInterfaceId", interface_id},
                           {"InstanceId", instance_id},
                           {"DeviceIndex", absl::StrCat(device_index)}},
                          kNotIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseAttachNetworkInterface(*xml);
}

absl::Status Ec2Provider::detachInterface(const std::string& attachment_id, bool force) {
  auto xml = query_->call("DetachNetworkInterface",
                          {{"AttachmentId", attachment_id}, {"Force", force ? "true" : "false"}},
                          kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseReturn("DetachNetworkInterface", *xml);
}

absl::Status Ec2Provider::setDeleteOnTermination(const std::string& interface_id,
                                                const std::string& attachment_id) {
  auto xml = query_->call("ModifyNetworkInterfaceAttribute",
                          {{"NetworkInterfaceId", interface_id},
                           {"Attachment.AttachmentId", attachment_id},
                           {"Attachment.DeleteOnTermination", "true"}},
                          kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseReturn("ModifyNetworkInterfaceAttribute", *xml);
}

absl::Status Ec2Provider::deleteInterface(const std::string& interface_id) {
  auto xml = query_->call("DeleteNetworkInterface", {{"NetworkInterfaceId", interface_id}},
                          kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseReturn("DeleteNetworkInterface", *xml);
}

absl::Status Ec2Provider::tagInterface(const std::string& interface_id,
                                       const std::map<std::string, std::string>& tags) {
  if (tags.empty()) return absl::OkStatus();
  Params params = {{"ResourceId.1", interface_id}};
  addTags(params, "Tag.", tags);
  auto xml = query_->call("CreateTags", params, kIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseReturn("CreateTags", *xml);
}

absl::StatusOr<std::vector<conf::IpAddress>> Ec2Provider::assignPrivateIps(
    const std::string& interface_id, int count) {
  if (count <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("assignPrivateIps: count ", count));
  }
  auto xml = query_->call("AssignPrivateIpAddresses",
                          {{"NetworkInterfaceId", interface_id},
                           {"SecondaryPrivateIpAddressCount", absl::StrCat(count)}},
                          kNotIdempotent, deadline());
  if (!xml.ok()) return xml.status();
  return parseAssignPrivateIpAddresses(*xml);
}

absl::Status Ec2Provider::unassignPrivateIps(const std::string& interface_id,
                                             const std::vector<conf::IpAddress>& ips) {
  const absl::Time until = deadline();
  std::vector<conf::IpAddress> remaining = ips;
  // EC2 refuses the whole call (InvalidParameterValue) when one address is not assigned to
  // the interface: the second round sends only the ones it still has.
  for (int round = 0; !remaining.empty(); ++round) {
    Params params = {{"NetworkInterfaceId", interface_id}};
    for (size_t i = 0; i < remaining.size(); ++i) {
      params.emplace_back(absl::StrCat("PrivateIpAddress.", i + 1), remaining[i].toString());
    }
    auto xml = query_->call("UnassignPrivateIpAddresses", params, kIdempotent, until);
    if (xml.ok()) return parseReturn("UnassignPrivateIpAddresses", *xml);
    if (xml.status().code() != absl::StatusCode::kInvalidArgument || round > 0) {
      return xml.status();
    }
    auto current = describeInterfaces({{"NetworkInterfaceId.1", interface_id}}, until);
    if (!current.ok()) return current.status();
    if (current->empty()) {
      return absl::NotFoundError("UnassignPrivateIpAddresses: interface " + interface_id +
                                 " does not exist");
    }
    const std::vector<conf::IpAddress>& has = current->front().secondary_ips;
    std::erase_if(remaining, [&has](const conf::IpAddress& ip) {
      return std::find(has.begin(), has.end(), ip) == has.end();
    });
    if (remaining.size() == ips.size()) return xml.status();  // not what we thought it was
  }
  return absl::OkStatus();
}

}  // namespace quasar::ipam::cloud
