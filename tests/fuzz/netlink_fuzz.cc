// The kernel's rtnetlink answers as quasar's parsers read them (routing/rtnl.h, nl_attr.h): a
// receive buffer of any bytes is walked message by message without reading outside it.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "routing/nl_attr.h"
#include "routing/rtnl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quasar::routing;
  // A receive buffer is aligned; so is this copy, and it is exactly `size` long.
  std::vector<uint8_t> buf(data, data + size);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  size_t len = buf.size();
  for (; nl::messageOk(nlh, len); nlh = nl::nextMessage(nlh, len)) {
    if (auto l = parseLink(nlh)) (void)l->name.size();
    if (auto a = parseAddress(nlh)) (void)a->prefix.toString();
    if (auto r = parseRoute(nlh)) (void)r->dst.toString();
    if (auto n = parseNeighbour(nlh)) (void)n->state;
    nl::forEachAttr(nlh, 0, [](const nlattr* a) {
      (void)nl::attrString(a);
      nl::forEachNested(a, [](const nlattr* b) { (void)nl::attrU32(b); });
    });
  }
  return 0;
}
