#pragma once
// One iptables-restore --noflush transaction over quasar's chains: chains (re)written, stale
// chains removed, hooks from the built-in chains added or deleted. Nothing else of the table is
// named, so another program's rules keep their content and order. Value type; pure.

#include <map>
#include <string>
#include <vector>

namespace quasar::netpolicy {

using RuleTokens = std::vector<std::vector<std::string>>;

struct FilterEdit {
  // Declared (so created, or flushed under --noflush) and filled with these rules.
  std::map<std::string, RuleTokens> write;
  // Declared (flushed) and then deleted with -X, after every rewrite: the chains that referenced
  // them are rewritten in the same transaction.
  std::vector<std::string> remove;
  // "-I PARENT 1 -j CHAIN" for each chain (PARENT from hookParent()).
  std::vector<std::string> add_hooks;
  // "-D PARENT -j CHAIN", count times per chain.
  std::map<std::string, int> delete_hooks;

  bool empty() const {
    return write.empty() && remove.empty() && add_hooks.empty() && delete_hooks.empty();
  }
  // The iptables-restore input ("*filter" ... "COMMIT").
  std::string render() const;
};

}  // namespace quasar::netpolicy
