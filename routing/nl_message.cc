#include "routing/nl_message.h"

namespace quasar::routing {

NlMessage::NlMessage(uint16_t type, uint16_t flags) : buf_(MNL_SOCKET_BUFFER_SIZE) {
  nlh_ = mnl_nlmsg_put_header(buf_.data());
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = NLM_F_REQUEST | flags;
}

}  // namespace quasar::routing
