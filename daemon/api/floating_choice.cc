#include "daemon/api/floating_choice.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ipam/floating/floating_source.h"

namespace quasar::daemon {
namespace {

namespace fl = ipam::floating;

// Pool names are object names: DNS subdomains (RFC 1123), at most 253 characters.
bool validPoolName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

const std::string* find(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

absl::StatusOr<AddressChoice> chooseAddressSource(
    const std::map<std::string, std::string>& annotations,
    const std::vector<conf::IpAddress>& requested_ips, const std::vector<fl::Pool>& pools,
    const std::function<fl::WorkloadRef()>& workload) {
  auto request = std::make_shared<fl::FloatingRequest>();
  bool floating = false;
  if (const auto* v = find(annotations, kFloatingIpAnnotation)) {
    if (*v == "true") {
      floating = true;
    } else if (*v != "false" && !v->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("annotation ", kFloatingIpAnnotation,
                                                     ": \"true\" or \"false\", not \"", *v, "\""));
    }
  }
  if (const auto* v = find(annotations, kFloatingIpPoolsAnnotation)) {
    for (absl::string_view part : absl::StrSplit(*v, ',', absl::SkipWhitespace())) {
      std::string name(absl::StripAsciiWhitespace(part));
      if (!validPoolName(name)) {
        return absl::InvalidArgumentError(absl::StrCat("annotation ", kFloatingIpPoolsAnnotation,
                                                       ": \"", name, "\" is not a pool name"));
      }
      request->pools.push_back(std::move(name));
    }
    floating = floating || !request->pools.empty();
  }
  for (const auto& ip : requested_ips) {
    for (const auto& p : pools) floating = floating || p.subnet.contains(ip);
  }
  if (!floating) return AddressChoice{"", nullptr};
  const std::string* policy = find(annotations, kReleasePolicyAnnotation);
  const char* policy_key = kReleasePolicyAnnotation;
  if (!policy) {
    policy = find(annotations, kGalaxyReleasePolicyAnnotation);
    policy_key = kGalaxyReleasePolicyAnnotation;
  }
  if (policy) {
    auto p = fl::parseReleasePolicy(*policy);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("annotation ", policy_key, ": ", p.status().message()));
    }
    request->policy = *p;
  }
  request->workload = workload();
  return AddressChoice{fl::FloatingSource::kName, std::move(request)};
}

}  // namespace quasar::daemon
