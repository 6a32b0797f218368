#include "netpolicy/kernel/nft_filter_dump.h"

// netpolicy/ speaks netfilter's own netlink subsystem here (scripts/check-layering.sh names the
// nft_* files).
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netpolicy/kernel/nft_socket.h"

namespace quasar::netpolicy {
namespace {

constexpr char kTable[] = "filter";
constexpr uint16_t msgType(int msg) { return (NFNL_SUBSYS_NFTABLES << 8) | msg; }

void putAttr(std::vector<uint8_t>& msg, uint16_t type, std::string_view text) {
  const size_t len = NLA_HDRLEN + text.size() + 1;  // with the NUL
  const size_t at = msg.size();
  msg.resize(at + NLA_ALIGN(len), 0);
  const nlattr a{static_cast<uint16_t>(len), type};
  std::memcpy(msg.data() + at, &a, sizeof(a));
  std::memcpy(msg.data() + at + NLA_HDRLEN, text.data(), text.size());
}

// FNV-1a, 64 bits: stable across processes and runs, so a digest can be written down in a test.
struct Fnv {
  uint64_t h = 14695981039346656037ull;
  void add(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(std::string_view s) { add(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
  void add(uint8_t b) { add(&b, 1); }
};

const NlAttr* find(const std::vector<NlAttr>& attrs, uint16_t type) {
  for (const NlAttr& a : attrs) {
    if (a.type == type) return &a;
  }
  return nullptr;
}

// The chain an expression jumps to when it is exactly "immediate: jump CHAIN", else "".
std::string_view jumpTarget(std::string_view name, const NlAttr* data) {
  if (name != "immediate" || data == nullptr) return {};
  const auto attrs = nlAttrs(data->data, data->len);
  const NlAttr* dreg = find(attrs, NFTA_IMMEDIATE_DREG);
  const NlAttr* value = find(attrs, NFTA_IMMEDIATE_DATA);
  uint32_t reg = 0;
  if (dreg == nullptr || !dreg->u32(reg) || reg != NFT_REG_VERDICT || value == nullptr) return {};
  const auto data_attrs = nlAttrs(value->data, value->len);
  const NlAttr* verdict = find(data_attrs, NFTA_DATA_VERDICT);
  if (verdict == nullptr) return {};
  const auto parts = nlAttrs(verdict->data, verdict->len);
  const NlAttr* code = find(parts, NFTA_VERDICT_CODE);
  const NlAttr* chain = find(parts, NFTA_VERDICT_CHAIN);
  uint32_t c = 0;
  if (code == nullptr || !code->u32(c) || c != static_cast<uint32_t>(NFT_JUMP) || !chain) return {};
  return chain->str();
}

struct Rule {
  std::string digest;
  std::string_view jump;  // the rule is only "-j <jump>" (besides its counter)
};

Rule ruleOf(const NlAttr* expressions, const NlAttr* compat, const NlAttr* userdata) {
  Fnv fnv;
  int others = 0;
  std::string_view jump;
  if (expressions != nullptr) {
    for (const NlAttr& elem : nlAttrs(expressions->data, expressions->len)) {
      if (elem.type != NFTA_LIST_ELEM) continue;
      const auto parts = nlAttrs(elem.data, elem.len);
      const NlAttr* name_attr = find(parts, NFTA_EXPR_NAME);
      const std::string_view name = name_attr ? name_attr->str() : std::string_view();
      // A counter's packets and bytes change with traffic, not with the rule.
      if (name == "counter") continue;
      const NlAttr* data = find(parts, NFTA_EXPR_DATA);
      fnv.add(name);
      fnv.add(uint8_t{0});
      if (data != nullptr) fnv.add(data->data, data->len);
      fnv.add(uint8_t{1});
      ++others;
      jump = jumpTarget(name, data);
    }
  }
  // The protocol iptables matched on ("-p tcp" with xt matches) and its comment live here.
  for (const NlAttr* extra : {compat, userdata}) {
    fnv.add(uint8_t{2});
    if (extra != nullptr) fnv.add(extra->data, extra->len);
  }
  return {absl::StrFormat("nft:%016x", fnv.h), others == 1 ? jump : std::string_view()};
}

bool quasarChain(std::string_view name) {
  return name.substr(0, sizeof(kChainPrefix) - 1) == kChainPrefix;
}

void addRule(const std::vector<NlAttr>& attrs, FilterState& state) {
  const NlAttr* table = find(attrs, NFTA_RULE_TABLE);
  const NlAttr* chain = find(attrs, NFTA_RULE_CHAIN);
  if (table == nullptr || table->str() != kTable || chain == nullptr) return;
  const std::string_view name = chain->str();
  const Rule rule = ruleOf(find(attrs, NFTA_RULE_EXPRESSIONS), find(attrs, NFTA_RULE_COMPAT),
                           find(attrs, NFTA_RULE_USERDATA));
  if (quasarChain(name)) {
    state.chains[std::string(name)].push_back(rule.digest);
    return;
  }
  const std::string target(rule.jump);
  if (!target.empty() && name == hookParent(target)) ++state.hooks[target];
}

}  // namespace

std::vector<uint8_t> nftFilterDumpRequest(NftDumpKind kind, conf::Family family, uint32_t seq,
                                          std::string_view chain) {
  std::vector<uint8_t> out(NLMSG_SPACE(sizeof(nfgenmsg)), 0);
  auto* nlh = reinterpret_cast<nlmsghdr*>(out.data());
  nlh->nlmsg_type = msgType(kind == NftDumpKind::kChains ? NFT_MSG_GETCHAIN : NFT_MSG_GETRULE);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  auto* gen = static_cast<nfgenmsg*>(NLMSG_DATA(nlh));
  gen->nfgen_family = family == conf::Family::kV4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  gen->version = NFNETLINK_V0;
  // NFTA_CHAIN_TABLE and NFTA_RULE_TABLE are both attribute 1; kernels that do not filter a
  // chain dump by table list every table's chains, which the parser skips.
  putAttr(out, NFTA_RULE_TABLE, kTable);
  if (kind == NftDumpKind::kRules && !chain.empty()) putAttr(out, NFTA_RULE_CHAIN, chain);
  reinterpret_cast<nlmsghdr*>(out.data())->nlmsg_len = static_cast<uint32_t>(out.size());
  return out;
}

absl::Status parseNftFilterDump(const uint8_t* data, size_t len, uint32_t seq, NftFilterDump& out) {
  absl::Status result;
  absl::Status walked = forEachNlMessage(data, len, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_seq != seq) return true;
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) out.interrupted = true;
    switch (nlh->nlmsg_type) {
      case NLMSG_ERROR:
        result = nftErrorStatus(nlh, nlh->nlmsg_len, "nftables dump of table filter");
        return result.ok();
      case NLMSG_DONE: {
        int32_t err = 0;
        if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(err))) std::memcpy(&err, NLMSG_DATA(nlh), 4);
        if (err < 0) result = nftErrnoStatus(-err, "nftables dump of table filter");
        out.done = true;
        return false;
      }
      case msgType(NFT_MSG_NEWCHAIN): {
        const auto attrs = nfMessageAttrs(nlh);
        const NlAttr* table = find(attrs, NFTA_CHAIN_TABLE);
        const NlAttr* name = find(attrs, NFTA_CHAIN_NAME);
        if (table != nullptr && table->str() == kTable && name != nullptr &&
            quasarChain(name->str())) {
          out.state.chains[std::string(name->str())];
        }
        return true;
      }
      case msgType(NFT_MSG_NEWRULE):
        addRule(nfMessageAttrs(nlh), out.state);
        return true;
      default:
        return true;
    }
  });
  if (!walked.ok()) return walked;
  return result;
}

absl::StatusOr<FilterState> readNftFilter(conf::Family family, std::string_view chain) {
  auto sock = NftSocket::open();
  if (!sock.ok()) return sock.status();
  std::vector<uint8_t> buf;
  uint32_t seq = 0;
  auto dump = [&](NftDumpKind kind, NftFilterDump& into) -> absl::Status {
    into.done = false;
    const uint32_t mine = ++seq;
    const char* what = kind == NftDumpKind::kChains ? "NFT_MSG_GETCHAIN" : "NFT_MSG_GETRULE";
    if (auto s = sock->send(nftFilterDumpRequest(kind, family, mine, chain), what); !s.ok()) {
      return s;
    }
    while (!into.done) {
      if (auto s = sock->receive(buf, what); !s.ok()) return s;
      if (auto s = parseNftFilterDump(buf.data(), buf.size(), mine, into); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    NftFilterDump into;
    if (chain.empty()) {
      if (auto s = dump(NftDumpKind::kChains, into); !s.ok()) return s;
    }
    if (auto s = dump(NftDumpKind::kRules, into); !s.ok()) return s;
    if (!into.interrupted) return std::move(into.state);
  }
  return absl::UnavailableError(
      absl::StrCat("nftables dump of table filter: interrupted by changes ", kAttempts, " times"));
}

}  // namespace quasar::netpolicy
