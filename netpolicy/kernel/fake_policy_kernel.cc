#include "netpolicy/kernel/fake_policy_kernel.h"

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "netpolicy/kernel/kernel_text.h"

namespace quasar::netpolicy::testing {
namespace {

const std::set<std::string> kBuiltinTargets = {"ACCEPT", "DROP", "RETURN", "REJECT", "MARK", "LOG"};

std::vector<std::string> split(std::string_view s) {
  return absl::StrSplit(absl::string_view(s.data(), s.size()), ' ', absl::SkipEmpty());
}

// The rule as iptables-save would print it.
std::string canonical(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    out.push_back(tokens[i] == "ESTABLISHED,RELATED" ? "RELATED,ESTABLISHED" : tokens[i]);
    const bool proto = tokens[i] == "tcp" || tokens[i] == "udp" || tokens[i] == "sctp";
    if (i > 0 && tokens[i - 1] == "-p" && proto && i + 1 < tokens.size() && tokens[i + 1] != "-m") {
      out.push_back("-m");
      out.push_back(tokens[i]);
    }
  }
  return absl::StrJoin(out, " ");
}

// The sets a rule names.
std::vector<std::string> setsOf(std::string_view rule) {
  std::vector<std::string> out;
  const auto t = split(rule);
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i] == "--match-set") out.push_back(t[i + 1]);
  }
  return out;
}

std::string targetOf(std::string_view rule) {
  const auto t = split(rule);
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i] == "-j" || t[i] == "-g") return t[i + 1];
  }
  return "";
}

FakePolicyKernel::Table emptyTable() {
  FakePolicyKernel::Table t;
  for (const char* c : {"INPUT", "FORWARD", "OUTPUT"}) {
    t.order.push_back(c);
    t.chains[c];
  }
  return t;
}

}  // namespace

FakePolicyKernel::FakePolicyKernel() {
  tables[conf::Family::kV4] = emptyTable();
  tables[conf::Family::kV6] = emptyTable();
}

absl::StatusOr<std::vector<KernelSet>> FakePolicyKernel::listSets() {
  ++reads;
  if (fail_reads > 0 && fail_reads--) return absl::InternalError("injected: list failed");
  std::vector<KernelSet> out;
  for (const auto& [name, s] : sets) {
    if (absl::StartsWith(name, kSetPrefix)) {
      out.push_back({name, s.type, s.family, static_cast<int64_t>(s.entries.size())});
    }
  }
  return out;
}

absl::StatusOr<std::vector<SetEntry>> FakePolicyKernel::readSet(const std::string& name) {
  ++reads;
  if (fail_reads > 0 && fail_reads--) return absl::InternalError("injected: read failed");
  auto it = sets.find(name);
  if (it == sets.end()) return absl::NotFoundError(absl::StrCat("set ", name, " does not exist"));
  // The kernel's order is its hash order: not sorted.
  return std::vector<SetEntry>(it->second.entries.rbegin(), it->second.entries.rend());
}

absl::Status FakePolicyKernel::changeSets(const std::vector<SetOp>& ops) {
  size_t limit = ops.size();
  const bool fail = fail_set_changes > 0;
  if (fail) {
    --fail_set_changes;
    limit = ops.size() / 2;
  }
  for (size_t i = 0; i < limit; ++i) {
    const SetOp& op = ops[i];
    auto it = sets.find(op.set);
    switch (op.kind) {
      case SetOp::Kind::kCreate:
        if (it != sets.end() && (it->second.type != op.type || it->second.family != op.family)) {
          return absl::InternalError(absl::StrCat("set ", op.set, " exists with other options"));
        }
        if (it == sets.end()) sets[op.set] = {op.type, op.family, {}};
        break;
      case SetOp::Kind::kAdd:
      case SetOp::Kind::kDel:
        if (it == sets.end()) return absl::NotFoundError(absl::StrCat("set ", op.set, " missing"));
        if (op.kind == SetOp::Kind::kAdd) {
          it->second.entries.insert(kernelEntry(it->second.type, op.entry));
        } else {
          const SetEntry e = kernelEntry(it->second.type, op.entry);
          std::erase_if(it->second.entries, [&](const SetEntry& x) { return x.text == e.text; });
        }
        break;
      case SetOp::Kind::kDestroy:
        if (it == sets.end()) break;
        for (const auto& [family, table] : tables) {
          for (const auto& [chain, rules] : table.chains) {
            for (const auto& r : rules) {
              const auto named = setsOf(r);
              if (std::find(named.begin(), named.end(), op.set) != named.end()) {
                return absl::InternalError(absl::StrCat("set ", op.set, " is in use"));
              }
            }
          }
        }
        sets.erase(it);
        break;
    }
    ++set_ops;
  }
  checkInvariant();
  if (fail) return absl::InternalError("injected: set batch failed midway");
  ++set_batches;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, int>> FakePolicyKernel::readHooks(conf::Family family) {
  ++hook_reads;
  if (unavailable.count(family)) return absl::UnavailableError("iptables: not installed");
  if (fail_reads > 0 && fail_reads--) return absl::InternalError("injected: iptables -S failed");
  std::map<std::string, int> hooks;
  const Table& t = tables[family];
  for (const char* parent : {"FORWARD", "INPUT"}) {
    auto it = t.chains.find(parent);
    if (it == t.chains.end()) continue;
    for (const auto& r : it->second) {
      if (r.rfind("-j ", 0) == 0 && r.find(' ', 3) == std::string::npos &&
          hookParent(r.substr(3)) == std::string(parent)) {
        ++hooks[r.substr(3)];
      }
    }
  }
  return hooks;
}

absl::StatusOr<FilterState> FakePolicyKernel::readFilter(conf::Family family) {
  ++reads;
  ++filter_reads;
  if (filter_read_delay.count() > 0) std::this_thread::sleep_for(filter_read_delay);
  if (unavailable.count(family)) return absl::UnavailableError("iptables-save: not installed");
  if (fail_reads > 0 && fail_reads--) return absl::InternalError("injected: save failed");
  std::string text = "*filter\n";
  const Table& t = tables[family];
  for (const auto& c : t.order) absl::StrAppend(&text, ":", c, " - [0:0]\n");
  for (const auto& c : t.order) {
    for (const auto& r : t.chains.at(c)) absl::StrAppend(&text, "-A ", c, " ", r, "\n");
  }
  text += "COMMIT\n";
  if (during_filter_read) {
    auto change = std::move(during_filter_read);
    during_filter_read = nullptr;
    change(*this);
  }
  return parseIptablesSave(text);
}

absl::Status FakePolicyKernel::restoreFilter(conf::Family family, const std::string& input) {
  if (unavailable.count(family)) return absl::UnavailableError("iptables-restore: not installed");
  if (fail_restores > 0) {
    --fail_restores;
    return absl::InternalError("injected: iptables-restore failed");
  }
  Table t = tables[family];  // all or nothing: work on a copy
  auto fail = [&](const std::string& line, const char* why) {
    return absl::InternalError(absl::StrCat("restore: ", why, " in: ", line));
  };
  bool committed = false;
  for (absl::string_view raw : absl::StrSplit(input, '\n', absl::SkipEmpty())) {
    const std::string line(raw);
    if (line == "*filter") continue;
    if (line == "COMMIT") {
      committed = true;
      continue;
    }
    auto tokens = split(line);
    if (line[0] == ':') {
      const std::string name = tokens[0].substr(1);
      if (!t.chains.count(name)) t.order.push_back(name);
      t.chains[name].clear();  // --noflush: declaring flushes only this chain
      continue;
    }
    if (tokens.size() < 2) return fail(line, "short line");
    const std::string op = tokens[0], chain = tokens[1];
    auto it = t.chains.find(chain);
    if (it == t.chains.end()) return fail(line, "no such chain");
    if (op == "-X") {
      if (!it->second.empty()) return fail(line, "chain not empty");
      for (const auto& [other, rules] : t.chains) {
        for (const auto& r : rules) {
          if (targetOf(r) == chain) return fail(line, "chain referenced");
        }
      }
      t.chains.erase(it);
      std::erase(t.order, chain);
      continue;
    }
    size_t first = 2;
    if (op == "-I") first = 3;  // "-I CHAIN 1 ..."
    const std::string rule =
        canonical(std::vector<std::string>(tokens.begin() + first, tokens.end()));
    if (op == "-D") {
      auto r = std::find(it->second.begin(), it->second.end(), rule);
      if (r == it->second.end()) return fail(line, "no such rule");
      it->second.erase(r);
      continue;
    }
    if (op != "-A" && op != "-I") return fail(line, "unknown command");
    for (const auto& s : setsOf(rule)) {
      auto set = sets.find(s);
      if (set == sets.end() || set->second.family != family) return fail(line, "no such set");
    }
    const std::string target = targetOf(rule);
    if (!kBuiltinTargets.count(target) && !t.chains.count(target)) {
      return fail(line, "no such target");
    }
    if (op == "-A") {
      it->second.push_back(rule);
    } else {
      it->second.insert(it->second.begin(), rule);
    }
  }
  if (!committed) return absl::InternalError("restore: no COMMIT");
  tables[family] = std::move(t);
  ++restores;
  ++generation;
  restore_inputs.push_back(input);
  checkInvariant();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FakePolicyKernel::filterGeneration() {
  ++generation_reads;
  if (no_generation) return absl::UnavailableError("no filter generation");
  if (churn) ++generation;
  return generation;
}

void FakePolicyKernel::checkInvariant() {
  for (const auto& [family, table] : tables) {
    for (const auto& [chain, rules] : table.chains) {
      for (const auto& r : rules) {
        for (const auto& s : setsOf(r)) {
          if (!sets.count(s)) ++violations;
        }
      }
    }
  }
}

void FakePolicyKernel::deleteChain(conf::Family family, const std::string& chain) {
  ++generation;
  Table& t = tables[family];
  for (auto& [name, rules] : t.chains) {
    std::erase_if(rules, [&](const std::string& r) { return targetOf(r) == chain; });
  }
  t.chains.erase(chain);
  std::erase(t.order, chain);
}

void FakePolicyKernel::flushChain(conf::Family family, const std::string& chain) {
  ++generation;
  auto it = tables[family].chains.find(chain);
  if (it != tables[family].chains.end()) it->second.clear();
}

void FakePolicyKernel::flushSet(const std::string& set) {
  auto it = sets.find(set);
  if (it != sets.end()) it->second.entries.clear();
}

void FakePolicyKernel::removeHook(conf::Family family, const std::string& chain) {
  ++generation;
  for (const char* parent : {"FORWARD", "INPUT"}) {
    std::erase(tables[family].chains[parent], absl::StrCat("-j ", chain));
  }
}

void FakePolicyKernel::addRule(conf::Family family, const std::string& chain,
                               const std::string& rule) {
  ++generation;
  Table& t = tables[family];
  if (!t.chains.count(chain)) t.order.push_back(chain);
  t.chains[chain].push_back(canonical(split(rule)));
}

std::vector<std::string> FakePolicyKernel::rules(conf::Family family,
                                                 const std::string& chain) const {
  auto t = tables.find(family);
  if (t == tables.end()) return {};
  auto it = t->second.chains.find(chain);
  return it == t->second.chains.end() ? std::vector<std::string>{} : it->second;
}

bool FakePolicyKernel::hasChain(conf::Family family, const std::string& chain) const {
  auto t = tables.find(family);
  return t != tables.end() && t->second.chains.count(chain) > 0;
}

}  // namespace quasar::netpolicy::testing
