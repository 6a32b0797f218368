#pragma once
// One rtnetlink request, built as plain bytes: tests inspect the bytes without a kernel. The
// buffer grows as attributes are added, so pointers into it (putHeader, nestStart) are only
// valid until the next put. Not thread-safe; one message per request.

#include <linux/netlink.h>

#include <cstdint>
#include <string>
#include <vector>

#include "routing/nl_attr.h"

namespace quasar::routing {

class NlMessage {
 public:
  NlMessage(uint16_t type, uint16_t flags);

  // Reserves and zeroes the family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg) after nlmsghdr.
  template <typename T>
  T* putHeader() {
    return static_cast<T*>(grow(sizeof(T)));
  }
  void putU8(uint16_t type, uint8_t v) { putBytes(type, &v, sizeof(v)); }
  void putU16(uint16_t type, uint16_t v) { putBytes(type, &v, sizeof(v)); }
  void putU32(uint16_t type, uint32_t v) { putBytes(type, &v, sizeof(v)); }
  void putString(uint16_t type, const std::string& v) { putBytes(type, v.c_str(), v.size() + 1); }
  void putBytes(uint16_t type, const void* data, size_t len);
  // A nest is an offset, not a pointer: the buffer may move while the nest is filled.
  size_t nestStart(uint16_t type);
  void nestEnd(size_t nest);
  // Extends the message by a raw family header inside a nest (the veth peer's ifinfomsg).
  template <typename T>
  T* putRaw() {
    return static_cast<T*>(grow(sizeof(T)));
  }

  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buf_.data()); }
  size_t size() const { return header()->nlmsg_len; }

 private:
  // Appends `len` zeroed bytes (aligned) and returns where they start.
  void* grow(size_t len);

  std::vector<uint8_t> buf_;
};

}  // namespace quasar::routing
