#include "conf/ip.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace quasar::conf {
namespace {

absl::uint128 hostMask(Family family, int length) {
  const int bits = family == Family::kV4 ? 32 : 128;
  if (length >= bits) return 0;
  const int host_bits = bits - length;
  if (host_bits == 128) return ~absl::uint128(0);
  return (absl::uint128(1) << host_bits) - 1;
}

}  // namespace

absl::StatusOr<IpAddress> IpAddress::parse(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::kV6;
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IP address"));
}

IpAddress IpAddress::fromInt(Family family, absl::uint128 value) {
  IpAddress a;
  a.family_ = family;
  const int n = family == Family::kV4 ? 4 : 16;
  for (int i = n - 1; i >= 0; --i) {
    a.bytes_[i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
  return a;
}

IpAddress IpAddress::fromBytes(Family family, const uint8_t* bytes) {
  IpAddress a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == Family::kV4 ? 4 : 16);
  return a;
}

absl::uint128 IpAddress::toInt() const {
  absl::uint128 v = 0;
  for (int i = 0; i < byteLength(); ++i) v = (v << 8) | bytes_[i];
  return v;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

absl::StatusOr<IpPrefix> IpPrefix::parse(absl::string_view text) {
  const auto slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a prefix (expected ADDRESS/LENGTH)"));
  }
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address.ok()) return address.status();
  int length = -1;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &length) || length < 0 ||
      length > address->bits()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has an invalid prefix length"));
  }
  return IpPrefix(*address, length);
}

IpPrefix IpPrefix::network() const {
  const absl::uint128 v = address_.toInt() & ~hostMask(family(), length_);
  return IpPrefix(IpAddress::fromInt(family(), v), length_);
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  const absl::uint128 mask = ~hostMask(family(), length_);
  return (a.toInt() & mask) == (address_.toInt() & mask);
}

bool IpPrefix::overlaps(const IpPrefix& other) const {
  return contains(other.address()) || other.contains(address_);
}

absl::uint128 IpPrefix::size() const {
  const int host_bits = address_.bits() - length_;
  if (host_bits >= 128) return absl::uint128(1) << 127;
  return absl::uint128(1) << host_bits;
}

IpAddress IpPrefix::at(absl::uint128 offset) const {
  return IpAddress::fromInt(family(), network().address().toInt() + offset);
}

absl::uint128 IpPrefix::offsetOf(const IpAddress& a) const {
  return a.toInt() - network().address().toInt();
}

std::string IpPrefix::toString() const { return absl::StrCat(address_.toString(), "/", length_); }

}  // namespace quasar::conf
