#pragma once
// A tiny model of the kernel for tests: walks a compiled Ruleset's chains for one new packet,
// with ipset semantics (hash:net's most specific entry wins, nomatch entries do not match).
// Only understands the tokens the compiler emits; anything else fails the test. Test-only.

#include <map>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "netpolicy/compiler/compiler.h"

namespace quasar::netpolicy::testing {

struct Packet {
  conf::IpAddress src, dst;
  Protocol protocol = Protocol::kTcp;
  int dport = 0;
};

enum class Outcome { kAccept, kDrop, kPass };  // kPass: quasar's chain returned

class RulesetSimulator {
 public:
  explicit RulesetSimulator(const Ruleset& r) : r_(r) {
    for (const auto& s : r.sets) sets_[s.name] = &s;
    for (const auto& c : r.chains) chains_[c.name] = &c;
  }

  Outcome run(const Packet& p) const {
    uint32_t mark = 0;
    return walk(kForwardChain, p, &mark, 0).value_or(Outcome::kPass);
  }

 private:
  static uint32_t hex(const std::string& s) {
    return static_cast<uint32_t>(std::stoul(s, nullptr, 16));
  }

  bool inSet(const std::string& name, const std::string& dir, const Packet& p) const {
    auto it = sets_.find(name);
    if (it == sets_.end()) {
      ADD_FAILURE() << "rule references missing set " << name;
      return false;
    }
    const IpSet& s = *it->second;
    const conf::IpAddress& a = dir == "src" ? p.src : p.dst;
    if (s.type == SetType::kHashIp) {
      for (const auto& e : s.entries)
        if (e.text == a.toString()) return true;
      return false;
    }
    if (s.type == SetType::kHashIpPort) {
      EXPECT_EQ(dir, "dst,dst");
      std::string want = absl::StrCat(a.toString(), ",", protocolName(p.protocol), ":", p.dport);
      for (const auto& e : s.entries)
        if (e.text == want) return true;
      return false;
    }
    int best = -1;
    bool match = false;
    for (const auto& e : s.entries) {
      auto pre = conf::IpPrefix::parse(e.text);
      EXPECT_TRUE(pre.ok()) << e.text;
      if (pre.ok() && pre->contains(a) && pre->length() > best) {
        best = pre->length();
        match = !e.nomatch;
      }
    }
    return match;
  }

  static bool portIn(const std::string& spec, int port) {
    std::vector<std::string> ends = absl::StrSplit(spec, ':');
    int lo = std::stoi(ends[0]), hi = ends.size() > 1 ? std::stoi(ends[1]) : lo;
    return port >= lo && port <= hi;
  }

  std::optional<Outcome> walk(const std::string& chain, const Packet& p, uint32_t* mark,
                              int depth) const {
    auto it = chains_.find(chain);
    if (it == chains_.end() || depth > 10) {
      ADD_FAILURE() << "jump to missing chain " << chain;
      return Outcome::kDrop;
    }
    for (const auto& rule : it->second->rules) {
      const auto& t = rule.args;
      bool match = true;
      bool negate = false;  // "!" before a match inverts it
      size_t i = 0;
      for (; i < t.size() && t[i] != "-j" && t[i] != "-g"; ++i) {
        if (t[i] == "-m") {
          ++i;
        } else if (t[i] == "!") {
          negate = true;
          continue;
        } else if (t[i] == "--match-set") {
          const bool in = inSet(t[i + 1], t[i + 2], p) != negate;
          match = match && in;
          negate = false;
          i += 2;
        } else if (t[i] == "-p") {
          const bool same = t[i + 1] == protocolName(p.protocol);
          match = match && same;
          ++i;
        } else if (t[i] == "--dport") {
          const bool in = portIn(t[++i], p.dport);
          match = match && in;
        } else if (t[i] == "--dports") {
          bool any = false;
          for (absl::string_view s : absl::StrSplit(t[++i], ','))
            any = any || portIn(std::string(s), p.dport);
          match = match && any;
        } else if (t[i] == "--ctstate") {
          const bool is_new = t[++i].find("NEW") != std::string::npos;
          match = match && is_new;
        } else if (t[i] == "--mark") {
          std::vector<std::string> vm = absl::StrSplit(t[++i], '/');
          const bool marked = (*mark & hex(vm[1])) == hex(vm[0]);
          match = match && marked;
        } else {
          ADD_FAILURE() << "unknown token " << t[i];
          return Outcome::kDrop;
        }
      }
      if (!match || i + 1 >= t.size()) continue;
      const std::string& target = t[i + 1];
      if (t[i] == "-g") {
        // goto: when the chain ends, the walk goes on after the rule that jumped to this one.
        return walk(target, p, mark, depth + 1);
      }
      if (target == "MARK") {
        std::vector<std::string> vm = absl::StrSplit(t[i + 3], '/');
        *mark = (*mark & ~hex(vm[1])) ^ hex(vm[0]);
      } else if (target == "ACCEPT") {
        return Outcome::kAccept;
      } else if (target == "DROP" || target == "REJECT") {
        return Outcome::kDrop;
      } else if (target == "RETURN") {
        return std::nullopt;
      } else if (auto r = walk(target, p, mark, depth + 1)) {
        return r;
      }
    }
    return std::nullopt;
  }

  const Ruleset& r_;
  std::map<std::string, const IpSet*> sets_;
  std::map<std::string, const Chain*> chains_;
};

}  // namespace quasar::netpolicy::testing
