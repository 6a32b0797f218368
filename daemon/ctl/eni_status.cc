#include "daemon/ctl/eni_status.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace quasar::ctl {

nlohmann::json eniStatusJson(const quasar::api::v1::EniStatus& s) {
  nlohmann::json interfaces = nlohmann::json::array();
  for (const auto& i : s.interfaces()) {
    interfaces.push_back({{"id", i.id()},
                          {"mac", i.mac()},
                          {"deviceIndex", i.device_index()},
                          {"subnet", i.subnet()},
                          {"primaryIP", i.primary_ip()},
                          {"used", i.used()},
                          {"free", i.free()},
                          {"cooling", i.cooling()},
                          {"createdByQuasar", i.created_by_quasar()},
                          {"table", i.table()}});
  }
  return {{"started", s.started()},
          {"startError", s.start_error()},
          {"instance", {{"id", s.instance_id()}, {"type", s.instance_type()}}},
          {"limits",
           {{"interfaces", s.max_interfaces()}, {"ipv4PerInterface", s.ipv4_per_interface()}}},
          {"maxPods",
           {{"formula", s.formula()}, {"value", s.max_pods()}, {"explanation", s.explanation()}}},
          {"capacity", s.capacity()},
          {"addresses",
           {{"assigned", s.assigned()},
            {"used", s.used()},
            {"free", s.free()},
            {"cooling", s.cooling()},
            {"desired", s.desired()}}},
          {"targets",
           {{"warmIPTarget", s.warm_ip_target()},
            {"minimumIPTarget", s.minimum_ip_target()},
            {"warmENITarget", s.warm_eni_target()}}},
          {"interfaces", interfaces},
          {"untouched", s.untouched()},
          {"lost", s.lost()},
          {"lastRefillError", s.last_refill_error()},
          {"dataPath",
           {{"passes", s.agent_passes()}, {"rules", s.rules()}, {"error", s.agent_error()}}}};
}

std::string eniStatusText(const quasar::api::v1::EniStatus& s) {
  std::string out = "\nENI mode\n";
  if (!s.started()) {
    absl::StrAppend(&out, "  not started: ", s.start_error().empty() ? "starting" : s.start_error(),
                    "\n");
  }
  absl::StrAppendFormat(&out, "  instance:     %s (%s): %u interfaces x %u IPv4 addresses\n",
                        s.instance_id(), s.instance_type(), s.max_interfaces(),
                        s.ipv4_per_interface());
  absl::StrAppendFormat(&out, "  max pods:     %u (%s: %s)\n", s.max_pods(), s.formula(),
                        s.explanation());
  absl::StrAppendFormat(&out,
                        "  addresses:    %u of %u: %u used, %u free, %u cooling; the targets "
                        "want %u (warmIPTarget %u, minimumIPTarget %u, warmENITarget %u)\n",
                        s.assigned(), s.capacity(), s.used(), s.free(), s.cooling(), s.desired(),
                        s.warm_ip_target(), s.minimum_ip_target(), s.warm_eni_target());
  if (!s.last_refill_error().empty()) {
    absl::StrAppend(&out, "  last refill:  ", s.last_refill_error(), "\n");
  }
  absl::StrAppendFormat(&out, "  data path:    %u rules, %u passes%s\n", s.rules(),
                        s.agent_passes(),
                        s.agent_error().empty() ? "" : absl::StrCat(", last: ", s.agent_error()));
  if (!s.lost().empty()) {
    absl::StrAppend(&out, "  lost:         ", absl::StrJoin(s.lost(), ", "),
                    " (held by pods; the cloud no longer shows them)\n");
  }
  if (!s.untouched().empty()) {
    absl::StrAppend(&out, "  untouched:    ", absl::StrJoin(s.untouched(), ", "), "\n");
  }
  absl::StrAppendFormat(&out, "\n  %-24s %-18s %6s %-16s %-15s %5s %5s %7s %6s\n", "INTERFACE",
                        "MAC", "DEVICE", "SUBNET", "PRIMARY", "USED", "FREE", "COOLING", "TABLE");
  for (const auto& i : s.interfaces()) {
    absl::StrAppendFormat(&out, "  %-24s %-18s %6d %-16s %-15s %5u %5u %7u %6s\n", i.id(), i.mac(),
                          i.device_index(), i.subnet(), i.primary_ip(), i.used(), i.free(),
                          i.cooling(), i.table() ? absl::StrCat(i.table()) : std::string("main"));
  }
  return out;
}

}  // namespace quasar::ctl
