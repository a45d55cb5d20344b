// Checksums of packets that arrived with a partial checksum: from NFQUEUE (NFQA_SKB_CSUMNOTREADY)
// or a TUN device (VIRTIO_NET_HDR_F_NEEDS_CSUM). Such a packet's TCP/UDP checksum field holds
// only the pseudo-header sum, not complemented: the device (or skb_checksum_help) adds the
// payload later. A payload verdict ends that: the kernel marks the packet CHECKSUM_NONE
// (nfqnl_mangle), so what we return is final — except that a GSO packet is still segmented in
// software on its way out, and segmentation starts again from the checksum field
// (tcp4_gso_segment rewrites it; __udp_gso_segment adjusts it for each segment's length and
// completes it).
#pragma once

#include <cstdint>
#include <span>

namespace conenat::core {

// After translation of a packet that arrived partial: writes the checksum field the kernel now
// expects — a GSO packet the pseudo-header sum of its (new) addresses and length, any other the
// complete checksum. False (nothing written) when `pkt` is no unfragmented IPv4 TCP/UDP packet.
bool fix_partial_checksum(std::span<std::uint8_t> pkt, bool gso);

} // namespace conenat::core
