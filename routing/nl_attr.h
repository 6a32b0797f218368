#pragma once
// Reading netlink messages and their attributes (the type-length-value layout of
// linux/netlink.h). Small enough to own: it replaced libmnl so that the CNI plugin links fully
// static (docs/benchmarks.md). Every reader checks lengths against the buffer it was given.

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quasar::routing::nl {

constexpr size_t align(size_t len) { return (len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1); }
constexpr size_t kHeaderLen = align(sizeof(nlmsghdr));
constexpr size_t kAttrHeaderLen = align(sizeof(nlattr));

inline const void* payload(const nlmsghdr* nlh) {
  return reinterpret_cast<const uint8_t*>(nlh) + kHeaderLen;
}

// Whether `nlh` is a whole message inside the `len` bytes left in a receive buffer.
inline bool messageOk(const nlmsghdr* nlh, size_t len) {
  return len >= sizeof(nlmsghdr) && nlh->nlmsg_len >= sizeof(nlmsghdr) && nlh->nlmsg_len <= len;
}
inline const nlmsghdr* nextMessage(const nlmsghdr* nlh, size_t& len) {
  const size_t step = align(nlh->nlmsg_len);
  len = step > len ? 0 : len - step;
  return reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const uint8_t*>(nlh) + step);
}

inline uint16_t attrType(const nlattr* a) { return a->nla_type & NLA_TYPE_MASK; }
inline const void* attrPayload(const nlattr* a) {
  return reinterpret_cast<const uint8_t*>(a) + kAttrHeaderLen;
}
inline size_t attrPayloadLen(const nlattr* a) { return a->nla_len - kAttrHeaderLen; }
inline uint32_t attrU32(const nlattr* a) {
  uint32_t v = 0;
  if (attrPayloadLen(a) >= sizeof(v)) std::memcpy(&v, attrPayload(a), sizeof(v));
  return v;
}
// A NUL-terminated string attribute, or nullptr when it is not terminated inside its payload.
inline const char* attrString(const nlattr* a) {
  const auto* p = static_cast<const char*>(attrPayload(a));
  const size_t n = attrPayloadLen(a);
  return n > 0 && std::memchr(p, '\0', n) ? p : nullptr;
}

// Calls fn(const nlattr*) for each attribute in [begin, begin + len); stops at a malformed one.
template <typename F>
void forEachAttr(const void* begin, size_t len, F&& fn) {
  const auto* p = static_cast<const uint8_t*>(begin);
  while (len >= sizeof(nlattr)) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || a->nla_len > len) return;
    fn(a);
    const size_t step = align(a->nla_len);
    if (step >= len) return;
    p += step;
    len -= step;
  }
}

// The attributes of a message after its family header of `header_len` bytes.
template <typename F>
void forEachAttr(const nlmsghdr* nlh, size_t header_len, F&& fn) {
  const size_t offset = kHeaderLen + align(header_len);
  if (nlh->nlmsg_len < offset) return;
  forEachAttr(reinterpret_cast<const uint8_t*>(nlh) + offset, nlh->nlmsg_len - offset,
              static_cast<F&&>(fn));
}

// The attributes nested inside `a`.
template <typename F>
void forEachNested(const nlattr* a, F&& fn) {
  forEachAttr(attrPayload(a), attrPayloadLen(a), static_cast<F&&>(fn));
}

}  // namespace quasar::routing::nl
