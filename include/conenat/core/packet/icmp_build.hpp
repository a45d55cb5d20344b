// Builds ICMPv4 error messages that the NAT itself originates (RFC 792, RFC 1812 §4.3.2).
#pragma once

#include "conenat/core/packet/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace conenat::core {

namespace icmp {
constexpr std::uint8_t EchoReply = 0, DestUnreachable = 3, EchoRequest = 8, TimeExceeded = 11,
                       ParameterProblem = 12;
constexpr std::uint8_t CodeNetUnreachable = 0, CodeHostUnreachable = 1, CodePortUnreachable = 3,
                       CodeFragNeeded = 4, CodeAdminProhibited = 13;
// RFC 1812 §4.3.2.3: an ICMP error we originate is at most this long (a reply buffer's size).
constexpr std::size_t kErrorBytes = 576;
// What an error quotes at most: the rest after its own IPv4 and ICMP headers.
constexpr std::size_t kErrorQuoteBytes = kErrorBytes - 20 - 8;
} // namespace icmp

// Writes into `out` an IPv4 ICMP error of `type`/`code` from `from` to the source of the
// offending packet `orig` (parsed as `view`), quoting its IP header and as much of its
// payload as keeps the error within 576 bytes (RFC 1812 §4.3.2.3). `mtu` fills the
// next-hop MTU field of a 3/4. Returns the length written, or 0 when RFC 1812 §4.3.2.7
// forbids an error (offending packet is an ICMP error, a non-first fragment, or from a
// broadcast/multicast/zero/loopback source) or `out` is too small.
std::size_t build_icmp_error(std::span<const std::uint8_t> orig, const PacketView& view,
                             std::span<std::uint8_t> out, std::uint8_t type, std::uint8_t code,
                             Ipv4 from, std::uint16_t mtu = 0);

} // namespace conenat::core
