// In-place rewrites of a parsed packet with incremental checksums (RFC 1624). Each call
// keeps every checksum in the packet valid (or as invalid as it was) and updates the view.
#pragma once

#include "conenat/core/packet/parse.hpp"

#include <cstdint>
#include <span>

namespace conenat::core {

// Udp / Tcp / IcmpQuery: sets the source address and port (query id for ICMP).
void rewrite_source(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to);
// Udp / Tcp / IcmpQuery: sets the destination address and port (query id for ICMP).
void rewrite_destination(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to);

// IcmpError: rewrites the quoted packet's source / destination endpoint (port = query id
// for a quoted query), fixing the quoted IPv4 checksum, the quoted L4 checksum when it is
// inside the quoted bytes (for UDP only when non-zero), and the ICMP checksum.
void rewrite_inner_source(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to);
void rewrite_inner_destination(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to);
// Any kind but Malformed: sets only the outer source / destination address (IP checksum,
// and the L4 pseudo-header checksum for Udp/Tcp).
void rewrite_source_addr(std::span<std::uint8_t> pkt, PacketView& view, Ipv4 to);
void rewrite_destination_addr(std::span<std::uint8_t> pkt, PacketView& view, Ipv4 to);

} // namespace conenat::core
