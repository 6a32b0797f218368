#pragma once
// One rtnetlink request, built as plain bytes with libmnl: tests inspect the bytes without a
// kernel. Not thread-safe; one message per request.

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quasar::routing {

class NlMessage {
 public:
  NlMessage(uint16_t type, uint16_t flags);

  // Reserves and zeroes the family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg) after nlmsghdr.
  template <typename T>
  T* putHeader() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  void putU8(uint16_t type, uint8_t v) { mnl_attr_put_u8(nlh_, type, v); }
  void putU32(uint16_t type, uint32_t v) { mnl_attr_put_u32(nlh_, type, v); }
  void putString(uint16_t type, const std::string& v) { mnl_attr_put_strz(nlh_, type, v.c_str()); }
  void putBytes(uint16_t type, const void* data, size_t len) {
    mnl_attr_put(nlh_, type, len, data);
  }
  nlattr* nestStart(uint16_t type) { return mnl_attr_nest_start(nlh_, type); }
  void nestEnd(nlattr* nest) { mnl_attr_nest_end(nlh_, nest); }
  // Extends the message by a raw family header inside a nest (the veth peer's ifinfomsg).
  template <typename T>
  T* putRaw() {
    auto* p = static_cast<T*>(mnl_nlmsg_get_payload_tail(nlh_));
    nlh_->nlmsg_len += MNL_ALIGN(sizeof(T));
    *p = T{};
    return p;
  }

  nlmsghdr* header() { return nlh_; }
  const nlmsghdr* header() const { return nlh_; }
  size_t size() const { return nlh_->nlmsg_len; }

 private:
  std::vector<uint8_t> buf_;
  nlmsghdr* nlh_;
};

}  // namespace quasar::routing
