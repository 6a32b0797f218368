#include "routing/nl_message.h"

#include <cstring>

namespace quasar::routing {

NlMessage::NlMessage(uint16_t type, uint16_t flags) {
  buf_.reserve(256);
  buf_.resize(nl::kHeaderLen);
  nlmsghdr* nlh = header();
  nlh->nlmsg_len = nl::kHeaderLen;
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
}

void* NlMessage::grow(size_t len) {
  const size_t at = header()->nlmsg_len;
  buf_.resize(at + nl::align(len), 0);
  header()->nlmsg_len = static_cast<uint32_t>(buf_.size());
  return buf_.data() + at;
}

void NlMessage::putBytes(uint16_t type, const void* data, size_t len) {
  auto* a = static_cast<nlattr*>(grow(nl::kAttrHeaderLen + len));
  a->nla_type = type;
  a->nla_len = static_cast<uint16_t>(nl::kAttrHeaderLen + len);
  std::memcpy(reinterpret_cast<uint8_t*>(a) + nl::kAttrHeaderLen, data, len);
}

size_t NlMessage::nestStart(uint16_t type) {
  auto* a = static_cast<nlattr*>(grow(nl::kAttrHeaderLen));
  a->nla_type = NLA_F_NESTED | type;
  return reinterpret_cast<uint8_t*>(a) - buf_.data();
}

void NlMessage::nestEnd(size_t nest) {
  auto* a = reinterpret_cast<nlattr*>(buf_.data() + nest);
  a->nla_len = static_cast<uint16_t>(header()->nlmsg_len - nest);
}

}  // namespace quasar::routing
