#pragma once
// Policy routing rules (`ip rule`, struct fib_rule_hdr of linux/fib_rules.h), IPv4 and IPv6:
// RTM_NEWRULE / RTM_DELRULE builders and the RTM_GETRULE dump request as plain bytes, the parser
// of the kernel's rule messages (all unit-tested without a kernel), and thin operations over a
// NetlinkSocket in its namespace. Dumps are restarted on NLM_F_DUMP_INTR (NetlinkSocket::dump).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "routing/netlink_socket.h"
#include "routing/rtnl.h"

namespace quasar::routing {

// FRA_PROTOCOL of the rules quasar installs: the routing agent's number (it owns them, as it
// owns the protocol-114 routes), so `ip rule show proto 114` lists exactly quasar's rules.
inline constexpr uint8_t kRuleProtocol = kNodeRouteProtocol;
// RT_TABLE_MAIN, for callers outside routing/ (which include no netlink header).
inline constexpr uint32_t kMainTable = 254;

// One rule, as built and as parsed. Only the selectors quasar uses are modelled one by one; the
// parser keeps the rest (iif, oif, fwmark, tos, "not") so that a rule carrying them never
// compares equal to a plain planned rule, and so that deleting it names it exactly.
struct Rule {
  conf::Family family = conf::Family::kV4;
  uint32_t priority = 0;                             // FRA_PRIORITY ("pref"); always sent
  std::optional<conf::IpPrefix> src = std::nullopt;  // "from"; unset: from all
  std::optional<conf::IpPrefix> dst = std::nullopt;  // "to"; unset: to all
  uint32_t table = kMainTable;                       // "lookup"
  uint8_t action = 1;                                // FR_ACT_TO_TBL
  uint8_t protocol = kRuleProtocol;                  // FRA_PROTOCOL: who installed it
  uint8_t tos = 0;
  uint32_t flags = 0;  // FIB_RULE_INVERT, ...
  std::optional<uint32_t> fwmark = std::nullopt;
  std::optional<uint32_t> fwmask = std::nullopt;
  std::string iif = {};
  std::string oif = {};
  // The kernel reported a selector modelled by none of the fields above (suppress_prefixlength,
  // uidrange, ipproto, ports, ...): such a rule equals no planned rule.
  bool unmodelled = false;

  bool operator==(const Rule&) const = default;
  // "pref 20100 from all to 10.0.0.5/32 lookup 254 proto 114", for logs and errors.
  std::string toString() const;
};

// Builders. A prefix is sent as its network address (the kernel matches under the mask but
// would report host bits back as given). RTM_NEWRULE is sent with NLM_F_EXCL: the kernel then
// refuses (AlreadyExists) a rule equal to one it has.
NlMessage ruleAddMessage(const Rule& rule);
NlMessage ruleDeleteMessage(const Rule& rule);
// Dumps every rule of `family`.
NlMessage ruleDumpMessage(conf::Family family);

// Reads RTM_NEWRULE and RTM_DELRULE messages (notifications of a removal carry the same
// layout); nullopt for other types, families other than IPv4/IPv6, and malformed messages.
std::optional<Rule> parseRule(const nlmsghdr* nlh);

// Errors carry the kernel's reason; "exists" is AlreadyExists and "no such rule" NotFound.
absl::Status addRule(NetlinkSocket& sock, const Rule& rule);
absl::Status deleteRule(NetlinkSocket& sock, const Rule& rule);
absl::StatusOr<std::vector<Rule>> listRules(NetlinkSocket& sock, conf::Family family);

}  // namespace quasar::routing
