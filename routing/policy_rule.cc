#include "routing/policy_rule.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "routing/nl_attr.h"

static_assert(quasar::routing::kMainTable == RT_TABLE_MAIN);

namespace quasar::routing {
namespace {

int af(conf::Family f) { return f == conf::Family::kV4 ? AF_INET : AF_INET6; }

void putPrefix(NlMessage& m, uint16_t type, const conf::IpPrefix& p) {
  const conf::IpAddress a = p.network().address();
  m.putBytes(type, a.data(), a.byteLength());
}

NlMessage ruleMessage(uint16_t type, uint16_t flags, const Rule& r) {
  NlMessage m(type, flags);
  auto* frh = m.putHeader<fib_rule_hdr>();
  frh->family = af(r.family);
  frh->src_len = r.src ? r.src->length() : 0;
  frh->dst_len = r.dst ? r.dst->length() : 0;
  frh->tos = r.tos;
  // Tables past 255 only fit the attribute; the header then says "see FRA_TABLE".
  frh->table = r.table < 256 ? r.table : RT_TABLE_UNSPEC;
  frh->action = r.action;
  frh->flags = r.flags;
  m.putU32(FRA_PRIORITY, r.priority);
  m.putU32(FRA_TABLE, r.table);
  m.putU8(FRA_PROTOCOL, r.protocol);
  if (r.src) putPrefix(m, FRA_SRC, *r.src);
  if (r.dst) putPrefix(m, FRA_DST, *r.dst);
  if (r.fwmark) m.putU32(FRA_FWMARK, *r.fwmark);
  if (r.fwmask) m.putU32(FRA_FWMASK, *r.fwmask);
  if (!r.iif.empty()) m.putString(FRA_IIFNAME, r.iif);
  if (!r.oif.empty()) m.putString(FRA_OIFNAME, r.oif);
  return m;
}

std::optional<conf::IpPrefix> attrPrefix(const nlattr* a, conf::Family family, int length) {
  const size_t want = family == conf::Family::kV4 ? 4 : 16;
  if (nl::attrPayloadLen(a) != want) return std::nullopt;
  const auto ip =
      conf::IpAddress::fromBytes(family, static_cast<const uint8_t*>(nl::attrPayload(a)));
  if (length > ip.bits()) return std::nullopt;
  return conf::IpPrefix(ip, length);
}

}  // namespace

std::string Rule::toString() const {
  std::string out = absl::StrCat("pref ", priority);
  if (flags & FIB_RULE_INVERT) absl::StrAppend(&out, " not");
  absl::StrAppend(&out, " from ", src ? src->toString() : "all");
  if (dst) absl::StrAppend(&out, " to ", dst->toString());
  if (!iif.empty()) absl::StrAppend(&out, " iif ", iif);
  if (!oif.empty()) absl::StrAppend(&out, " oif ", oif);
  if (fwmark) absl::StrAppend(&out, " fwmark ", *fwmark);
  if (action == FR_ACT_TO_TBL) {
    absl::StrAppend(&out, " lookup ", table);
  } else {
    absl::StrAppend(&out, " action ", action);
  }
  absl::StrAppend(&out, " proto ", protocol);
  if (unmodelled) absl::StrAppend(&out, " (and more)");
  return out;
}

NlMessage ruleAddMessage(const Rule& rule) {
  return ruleMessage(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule);
}

NlMessage ruleDeleteMessage(const Rule& rule) { return ruleMessage(RTM_DELRULE, 0, rule); }

NlMessage ruleDumpMessage(conf::Family family) {
  NlMessage m(RTM_GETRULE, 0);
  m.putHeader<fib_rule_hdr>()->family = af(family);
  return m;
}

std::optional<Rule> parseRule(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE) return std::nullopt;
  if (nlh->nlmsg_len < nl::kHeaderLen + sizeof(fib_rule_hdr)) return std::nullopt;
  const auto* frh = static_cast<const fib_rule_hdr*>(nl::payload(nlh));
  Rule r;
  if (frh->family == AF_INET) {
    r.family = conf::Family::kV4;
  } else if (frh->family == AF_INET6) {
    r.family = conf::Family::kV6;
  } else {
    return std::nullopt;
  }
  r.tos = frh->tos;
  r.table = frh->table;
  r.action = frh->action;
  r.flags = frh->flags;
  r.protocol = 0;  // RTPROT_UNSPEC when the kernel does not say (before Linux 4.17)
  bool ok = true;
  nl::forEachAttr(nlh, sizeof(fib_rule_hdr), [&](const nlattr* a) {
    switch (nl::attrType(a)) {
      case FRA_PRIORITY:
        r.priority = nl::attrU32(a);
        break;
      case FRA_TABLE:
        r.table = nl::attrU32(a);
        break;
      case FRA_PROTOCOL:
        if (nl::attrPayloadLen(a) >= 1)
          r.protocol = *static_cast<const uint8_t*>(nl::attrPayload(a));
        break;
      case FRA_SRC:
        r.src = attrPrefix(a, r.family, frh->src_len);
        ok &= r.src.has_value();
        break;
      case FRA_DST:
        r.dst = attrPrefix(a, r.family, frh->dst_len);
        ok &= r.dst.has_value();
        break;
      case FRA_FWMARK:
        r.fwmark = nl::attrU32(a);
        break;
      case FRA_FWMASK:
        r.fwmask = nl::attrU32(a);
        break;
      case FRA_IIFNAME:
        if (nl::attrString(a)) r.iif = nl::attrString(a);
        break;
      case FRA_OIFNAME:
        if (nl::attrString(a)) r.oif = nl::attrString(a);
        break;
      case FRA_SUPPRESS_PREFIXLEN:
      case FRA_SUPPRESS_IFGROUP:
        // The kernel reports these on every rule, -1 meaning "not set".
        if (nl::attrU32(a) != 0xffffffff) r.unmodelled = true;
        break;
      case FRA_PAD:
        break;
      default:
        r.unmodelled = true;
    }
  });
  if (!ok) return std::nullopt;
  return r;
}

absl::Status addRule(NetlinkSocket& sock, const Rule& rule) {
  auto m = ruleAddMessage(rule);
  return sock.request(m, absl::StrCat("add rule ", rule.toString()));
}

absl::Status deleteRule(NetlinkSocket& sock, const Rule& rule) {
  auto m = ruleDeleteMessage(rule);
  return sock.request(m, absl::StrCat("delete rule ", rule.toString()));
}

absl::StatusOr<std::vector<Rule>> listRules(NetlinkSocket& sock, conf::Family family) {
  auto m = ruleDumpMessage(family);
  std::vector<Rule> out;
  auto s = sock.dump(
      m,
      [&](const nlmsghdr* nlh) {
        if (auto r = parseRule(nlh)) out.push_back(std::move(*r));
      },
      family == conf::Family::kV4 ? "list IPv4 rules" : "list IPv6 rules");
  if (!s.ok()) return s;
  return out;
}

}  // namespace quasar::routing
