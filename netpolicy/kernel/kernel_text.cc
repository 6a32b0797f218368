#include "netpolicy/kernel/kernel_text.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace quasar::netpolicy {
namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!line.empty()) out.emplace_back(line.data(), line.size());
  }
  return out;
}

bool consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::optional<SetType> parseSetType(std::string_view name) {
  for (SetType t : {SetType::kHashIp, SetType::kHashNet, SetType::kHashIpPort}) {
    if (name == setTypeName(t)) return t;
  }
  return std::nullopt;
}

const char* ipsetFamilyName(conf::Family family) {
  return family == conf::Family::kV4 ? "inet" : "inet6";
}

SetEntry kernelEntry(SetType type, const SetEntry& entry) {
  if (type != SetType::kHashNet) return entry;
  SetEntry out = entry;
  std::string_view text = out.text;
  const bool v6 = text.find(':') != std::string_view::npos;
  const std::string_view host = v6 ? "/128" : "/32";
  if (text.size() > host.size() && text.substr(text.size() - host.size()) == host) {
    out.text.resize(text.size() - host.size());
  }
  return out;
}

absl::StatusOr<std::vector<KernelSet>> parseIpsetHeaders(std::string_view text) {
  std::vector<KernelSet> out;
  bool ours = false;
  for (std::string_view line : lines(text)) {
    if (consume(line, "Name: ")) {
      ours = line.substr(0, sizeof(kSetPrefix) - 1) == kSetPrefix;
      if (ours) out.push_back({std::string(line), SetType::kHashIp, conf::Family::kV4, 0});
      continue;
    }
    if (!ours) continue;
    KernelSet& set = out.back();
    if (consume(line, "Type: ")) {
      auto type = parseSetType(line);
      if (!type) {
        return absl::InternalError(
            absl::StrCat("ipset ", set.name, ": unknown type ", std::string(line)));
      }
      set.type = *type;
    } else if (consume(line, "Header: ")) {
      set.family = absl::StrContains(absl::string_view(line.data(), line.size()), "family inet6")
                       ? conf::Family::kV6
                       : conf::Family::kV4;
    } else if (consume(line, "Number of entries: ")) {
      if (!absl::SimpleAtoi(absl::string_view(line.data(), line.size()), &set.members)) {
        return absl::InternalError(
            absl::StrCat("ipset ", set.name, ": bad count ", std::string(line)));
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<SetEntry>> parseIpsetSave(std::string_view name, std::string_view text) {
  std::vector<SetEntry> out;
  const std::string prefix = absl::StrCat("add ", std::string(name), " ");
  for (std::string_view line : lines(text)) {
    if (!consume(line, prefix)) continue;
    SetEntry e;
    if (const size_t sp = line.find(' '); sp != std::string_view::npos) {
      e.nomatch = line.substr(sp + 1) == "nomatch";
      line = line.substr(0, sp);
    }
    e.text = std::string(line);
    out.push_back(std::move(e));
  }
  return out;
}

std::string renderSetOps(const std::vector<SetOp>& ops) {
  std::string out;
  for (const SetOp& op : ops) {
    switch (op.kind) {
      case SetOp::Kind::kCreate:
        absl::StrAppend(&out, "create ", op.set, " ", setTypeName(op.type), " family ",
                        ipsetFamilyName(op.family), " maxelem ", kSetMaxElem, " -exist\n");
        break;
      case SetOp::Kind::kAdd:
        absl::StrAppend(&out, "add ", op.set, " ", op.entry.text,
                        op.entry.nomatch ? " nomatch" : "", " -exist\n");
        break;
      case SetOp::Kind::kDel:
        absl::StrAppend(&out, "del ", op.set, " ", op.entry.text, " -exist\n");
        break;
      case SetOp::Kind::kDestroy:
        absl::StrAppend(&out, "destroy ", op.set, "\n");
        break;
    }
  }
  return out;
}

absl::StatusOr<FilterState> parseIptablesSave(std::string_view text) {
  FilterState out;
  bool in_filter = false;
  for (std::string_view line : lines(text)) {
    if (line[0] == '#') continue;
    if (line[0] == '*') {
      in_filter = line == "*filter";
      continue;
    }
    if (!in_filter) continue;
    if (line == "COMMIT") {
      in_filter = false;
      continue;
    }
    if (consume(line, ":")) {
      const std::string_view name = line.substr(0, line.find(' '));
      if (consume(line, kChainPrefix)) out.chains[std::string(name)];
      continue;
    }
    if (!consume(line, "-A ")) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    const std::string chain(line.substr(0, sp));
    const std::string_view rule = line.substr(sp + 1);
    if (chain.rfind(kChainPrefix, 0) == 0) {
      out.chains[chain].emplace_back(rule);
      continue;
    }
    std::string_view target = rule;
    if (consume(target, "-j ") && target.find(' ') == std::string_view::npos &&
        chain == hookParent(std::string(target))) {
      ++out.hooks[std::string(target)];
    }
  }
  // No "*filter" at all: the table does not exist yet (nft creates it on first use).
  return out;
}

}  // namespace quasar::netpolicy
