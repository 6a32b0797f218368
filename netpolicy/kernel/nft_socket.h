#pragma once
// What every nftables netlink exchange of netpolicy/ shares: a NETLINK_NETFILTER socket in the
// calling thread's network namespace, the kernel's errors as Status (with the extended ack text),
// and walking messages and attributes of a received datagram without trusting its lengths.
// Used by the generation reader (nft_generation.h) and the filter table reader
// (nft_filter_dump.h). Pure byte handling apart from NftSocket, so the parsers are tested
// without a kernel.
//
// Threading: NftSocket is thread-compatible (one owner); the functions are thread-safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct nlmsghdr;

namespace quasar::netpolicy {

// An open NETLINK_NETFILTER socket (SOCK_CLOEXEC, extended acks on where the kernel has them,
// a receive timeout of one second as a guard against blocking forever). Move-only; closes on
// destruction.
class NftSocket {
 public:
  // Unavailable when the socket cannot be opened (no nf_tables); the errno otherwise.
  static absl::StatusOr<NftSocket> open();
  NftSocket(NftSocket&& other) noexcept;
  NftSocket& operator=(NftSocket&& other) noexcept;
  NftSocket(const NftSocket&) = delete;
  NftSocket& operator=(const NftSocket&) = delete;
  ~NftSocket();

  // Sends one request to the kernel; `what` names it in errors.
  absl::Status send(const std::vector<uint8_t>& request, std::string_view what);
  // Receives one datagram into `buf` (resized to what arrived). DataLoss when it did not fit;
  // Unavailable when nothing came within a second.
  absl::Status receive(std::vector<uint8_t>& buf, std::string_view what);

 private:
  explicit NftSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The Status of an NLMSG_ERROR message of `len` bytes (an ack, error 0, is OK): the errno mapped
// to a code that says whether to retry, `what` and the kernel's extended ack text.
absl::Status nftErrorStatus(const nlmsghdr* nlh, size_t len, std::string_view what);

// errno `err` while doing `what`, as a Status: Unavailable for conditions a retry may fix (and
// for a kernel without nf_tables), PermissionDenied, Unimplemented, else Internal.
absl::Status nftErrnoStatus(int err, std::string_view what);

// Calls `fn` for each netlink message in a datagram (header checked against `len`); DataLoss
// for a truncated message. `fn` returns false to stop.
absl::Status forEachNlMessage(const uint8_t* data, size_t len,
                              const std::function<bool(const nlmsghdr*)>& fn);

// One attribute: its type without the nested/byte-order flags, and its payload.
struct NlAttr {
  uint16_t type = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  std::string_view str() const;   // a NUL-terminated string payload, without the NUL
  bool u32(uint32_t& out) const;  // a big-endian 32-bit payload (nftables' byte order)
};

// The attributes in [data, data+len), in order; stops at the first one whose length does not
// fit (the rest of a damaged message is ignored, never read out of bounds).
std::vector<NlAttr> nlAttrs(const uint8_t* data, size_t len);
// The attributes of a netfilter message (after its nfgenmsg header); empty when too short.
std::vector<NlAttr> nfMessageAttrs(const nlmsghdr* nlh);

}  // namespace quasar::netpolicy
