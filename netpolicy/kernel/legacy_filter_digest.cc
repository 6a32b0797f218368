#include "netpolicy/kernel/legacy_filter_digest.h"

// The legacy tables' own interface (what iptables-legacy-save reads): getsockopt on a raw
// socket. Netfilter's, not rtnetlink.
// glibc's netinet/in.h before the kernel's headers, which then leave its definitions alone.
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
// clang-format off
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on

#include <cstddef>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace quasar::netpolicy {
namespace {

// What differs between the two families' records and calls.
struct Layout {
  size_t next_offset;  // of the entry's __u16 next_offset
  size_t counters;     // of its struct xt_counters
  size_t min_entry;    // sizeof the entry header
};

Layout layoutOf(conf::Family family) {
  if (family == conf::Family::kV4) {
    return {offsetof(ipt_entry, next_offset), offsetof(ipt_entry, counters), sizeof(ipt_entry)};
  }
  return {offsetof(ip6t_entry, next_offset), offsetof(ip6t_entry, counters), sizeof(ip6t_entry)};
}

// Reads one family's filter table as its blob; an empty blob when the kernel has none.
absl::StatusOr<std::vector<uint8_t>> readEntries(conf::Family family) {
  const bool v4 = family == conf::Family::kV4;
  const int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    const int err = errno;
    if (!v4 && err == EAFNOSUPPORT) return std::vector<uint8_t>();  // IPv6 disabled
    return absl::UnavailableError(
        absl::StrCat("legacy filter digest: raw socket: ", std::strerror(err)));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  const int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
  // The table may change between the two calls (the kernel then answers EAGAIN): again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ipt_getinfo info{};  // ip6t_getinfo has the same layout
    static_assert(sizeof(ipt_getinfo) == sizeof(ip6t_getinfo));
    std::strncpy(info.name, "filter", sizeof(info.name) - 1);
    socklen_t len = sizeof(info);
    if (getsockopt(fd, level, v4 ? IPT_SO_GET_INFO : IP6T_SO_GET_INFO, &info, &len) != 0) {
      const int err = errno;
      // No filter table in this namespace (its module not loaded): nothing in it.
      if (err == ENOENT) return std::vector<uint8_t>();
      return absl::InternalError(absl::StrCat("legacy filter digest: ", v4 ? "IPT" : "IP6T",
                                              "_SO_GET_INFO: ", std::strerror(err)));
    }
    static_assert(sizeof(ipt_get_entries) == sizeof(ip6t_get_entries));
    std::vector<uint8_t> buf(sizeof(ipt_get_entries) + info.size);
    auto* request = reinterpret_cast<ipt_get_entries*>(buf.data());
    std::strncpy(request->name, "filter", sizeof(request->name) - 1);
    request->size = info.size;
    len = static_cast<socklen_t>(buf.size());
    if (getsockopt(fd, level, v4 ? IPT_SO_GET_ENTRIES : IP6T_SO_GET_ENTRIES, buf.data(), &len) !=
        0) {
      const int err = errno;
      if (err == EAGAIN) continue;
      return absl::InternalError(absl::StrCat("legacy filter digest: ", v4 ? "IPT" : "IP6T",
                                              "_SO_GET_ENTRIES: ", std::strerror(err)));
    }
    buf.erase(buf.begin(), buf.begin() + offsetof(ipt_get_entries, entrytable));
    return buf;
  }
  return absl::UnavailableError("legacy filter digest: the table kept changing while read");
}

}  // namespace

absl::StatusOr<uint64_t> digestLegacyEntries(conf::Family family, std::span<uint8_t> entries) {
  const Layout layout = layoutOf(family);
  size_t offset = 0;
  while (offset < entries.size()) {
    if (entries.size() - offset < layout.min_entry) {
      return absl::DataLossError(
          absl::StrCat("legacy filter digest: entry at ", offset, " is truncated"));
    }
    uint8_t* entry = entries.data() + offset;
    uint16_t next = 0;
    std::memcpy(&next, entry + layout.next_offset, sizeof(next));
    if (next < layout.min_entry || next > entries.size() - offset) {
      return absl::DataLossError(absl::StrCat("legacy filter digest: entry at ", offset,
                                              " has next_offset ", next));
    }
    std::memset(entry + layout.counters, 0, sizeof(xt_counters));
    offset += next;
  }
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(entries.data()), entries.size()));
}

absl::StatusOr<uint64_t> readLegacyFilterDigest() {
  uint64_t digest = 0;
  for (conf::Family family : {conf::Family::kV4, conf::Family::kV6}) {
    auto entries = readEntries(family);
    if (!entries.ok()) return entries.status();
    auto d = digestLegacyEntries(family, *entries);
    if (!d.ok()) return d.status();
    // Order matters: the same blob in the other family is another state.
    digest = digest * 0x100000001b3ULL ^ *d;
  }
  return digest;
}

}  // namespace quasar::netpolicy
