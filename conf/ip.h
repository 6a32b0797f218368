#pragma once
// Family-agnostic IP addresses and prefixes. IPv4 and IPv6 share one type so that allocators,
// stores and routes need no rewrite for IPv6 or dual-stack.

#include <array>
#include <compare>
#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quasar::conf {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

// An IPv4 or IPv6 address, held in network byte order. A value type; thread-compatible.
class IpAddress {
 public:
  IpAddress() = default;
  static absl::StatusOr<IpAddress> parse(absl::string_view text);
  // `value` holds the address as an integer: IPv4 uses the low 32 bits.
  static IpAddress fromInt(Family family, absl::uint128 value);
  static IpAddress fromBytes(Family family, const uint8_t* bytes);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  int bits() const { return isV4() ? 32 : 128; }
  // Length in bytes of the address on the wire (4 or 16).
  int byteLength() const { return isV4() ? 4 : 16; }
  const uint8_t* data() const { return bytes_.data(); }
  absl::uint128 toInt() const;
  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// An address with a prefix length, e.g. 10.244.1.0/24. parse() keeps host bits (10.244.1.5/32 and
// 10.244.1.5/24 are both valid); network() clears them.
class IpPrefix {
 public:
  IpPrefix() = default;
  IpPrefix(IpAddress address, int length) : address_(address), length_(length) {}
  static absl::StatusOr<IpPrefix> parse(absl::string_view text);
  // A host prefix: /32 or /128.
  static IpPrefix host(const IpAddress& a) { return IpPrefix(a, a.bits()); }

  const IpAddress& address() const { return address_; }
  int length() const { return length_; }
  Family family() const { return address_.family(); }
  IpPrefix network() const;
  bool contains(const IpAddress& a) const;
  bool overlaps(const IpPrefix& other) const;
  // Number of addresses covered, saturated at 2^127 for very short IPv6 prefixes.
  absl::uint128 size() const;
  // The address `offset` places after the network address. offset must be < size().
  IpAddress at(absl::uint128 offset) const;
  // offset of `a` from the network address; `a` must be contained.
  absl::uint128 offsetOf(const IpAddress& a) const;
  std::string toString() const;

  auto operator<=>(const IpPrefix&) const = default;

 private:
  IpAddress address_;
  int length_ = 0;
};

}  // namespace quasar::conf
