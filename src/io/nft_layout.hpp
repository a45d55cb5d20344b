// Internal: the layout of conenatd's nft maps, shared by install(), add() and render().
// A concatenated key puts each field in its own 32-bit register slot (NFT_REG32_*), so
// ipv4_addr . inet_service takes 8 bytes: address, then the port zero-padded to 4 bytes.
#pragma once

#include "conenat/core/nat/config.hpp"
#include "conenat/core/types.hpp"
#include "conenat/io/nat_maps.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace conenat::io::detail {

using nft::Field;
using io::dnat_key;
using io::dnat_map;
using io::snat_key;
using io::snat_map;

struct PayloadRef {
    std::uint32_t base;   // NFT_PAYLOAD_NETWORK_HEADER / _TRANSPORT_HEADER
    std::uint32_t offset, len;
};

constexpr std::uint32_t kSlot = 4;            // bytes per concatenated field
constexpr std::uint32_t kEndpointLen = 2 * kSlot; // ipv4_addr . inet_service

// nft's datatype ids (nftables src/datatype.h), for `nft list` to print keys readably.
constexpr std::uint32_t kTypeIpv4 = 7, kTypeInetProto = 12, kTypeInetService = 13;
constexpr std::uint32_t kTypeBits = 6;

std::string_view proto_name(core::Proto proto); // "udp", "tcp", "icmp"

PayloadRef payload_of(Field f, core::Proto proto);
std::string_view expr_name(Field f, core::Proto proto); // "ip saddr", "udp sport", "icmp id", ...
std::uint32_t key_len(std::span<const Field> key);
std::uint32_t key_type(std::span<const Field> key);
std::uint32_t endpoint_type(); // ipv4_addr . inet_service

// Writes the key of `key` for a packet src -> dst (network byte order, zero-padded slots).
void encode_key(std::span<const Field> key, core::Endpoint src, core::Endpoint dst, std::uint8_t* out);
// Writes ipv4_addr . inet_service (8 bytes).
void encode_endpoint(core::Endpoint e, std::uint8_t* out);

} // namespace conenat::io::detail
