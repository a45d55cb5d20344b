// Reads and in-place edits of single IPv4 header fields, for the engines' steps around the
// translator (fragments, hops): each keeps the header checksum right (RFC 1624).
#pragma once

#include <cstdint>
#include <span>

namespace conenat::core {

// An IPv4 packet with MF set or a fragment offset (RFC 791): part of a datagram. False for
// anything shorter than an IPv4 header or of another version.
bool is_fragment(std::span<const std::uint8_t> pkt);

// A hash of what names a fragment's datagram (RFC 791: source, destination, protocol and
// identification): every fragment of one datagram has the same. 0 for no IPv4 header.
std::uint64_t datagram_hash(std::span<const std::uint8_t> pkt);

// One hop taken, as a router forwards (RFC 1812 §5.3.1). False (nothing changed) when the TTL
// is 1 or 0 (the packet has expired) or `pkt` has no IPv4 header.
bool take_hop(std::span<std::uint8_t> pkt);
// One hop given back (a hop the kernel will take again). Nothing changed at TTL 255.
void give_back_hop(std::span<std::uint8_t> pkt);

} // namespace conenat::core
