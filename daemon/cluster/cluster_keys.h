#pragma once
// The datastore's key layout (docs/datastore.md). Keys are relative to the store's prefix.

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "conf/ip.h"

namespace quasar::daemon::keys {

inline constexpr char kNodes[] = "nodes/";    // nodes/<name>: the node's record (JSON), permanent
inline constexpr char kLive[] = "live/";      // live/<name>: under the node's lease: "ready"
inline constexpr char kBlocks[] = "blocks/";  // blocks/<a.b.c.d-len>: {"node": <owner>}
// fips/<address>: the floating-IP lease of that address (JSON, daemon/cluster/
// store_lease_store.h). Keyed by the address alone: one lease per address, cluster-wide.
inline constexpr char kFips[] = "fips/";

inline std::string node(const std::string& name) { return kNodes + name; }
inline std::string live(const std::string& name) { return kLive + name; }
// '/' is the key separator, so a block's prefix length follows a '-'.
inline std::string block(const conf::IpPrefix& p) {
  return absl::StrCat(kBlocks, p.network().address().toString(), "-", p.length());
}
inline std::string fip(const conf::IpAddress& a) { return kFips + a.toString(); }
inline std::optional<conf::IpPrefix> parseBlock(const std::string& key) {
  if (!absl::StartsWith(key, kBlocks)) return std::nullopt;
  std::string text = key.substr(sizeof(kBlocks) - 1);
  const auto dash = text.rfind('-');
  if (dash == std::string::npos) return std::nullopt;
  text[dash] = '/';
  auto p = conf::IpPrefix::parse(text);
  if (!p.ok()) return std::nullopt;
  return *p;
}

}  // namespace quasar::daemon::keys
