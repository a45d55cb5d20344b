// Vocabulary types shared by the whole translation core. Addresses and ports are
// kept in host byte order everywhere above the packet layer.
#pragma once

#include <cstdint>

namespace conenat::core {

using Ipv4 = std::uint32_t;   // host byte order: 10.0.0.1 == 0x0a000001
using TimeMs = std::uint64_t; // milliseconds on the caller's monotonic clock

// IP protocol numbers of the three translated protocols.
enum class Proto : std::uint8_t { Icmp = 1, Tcp = 6, Udp = 17 };

// An address and a port; for ICMP queries the "port" is the query identifier.
struct Endpoint {
    Ipv4 addr = 0;
    std::uint16_t port = 0;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Direction of a packet relative to the NAT: Outbound = inside -> outside (in2out).
enum class Direction : std::uint8_t { Outbound, Inbound };

// An IPv4 prefix, e.g. the internal network 10.0.0.0/24.
struct Prefix {
    Ipv4 addr = 0;
    std::uint8_t len = 0; // 0..32; 0 holds every address
    static constexpr Ipv4 mask_of(unsigned len) { return len == 0 ? 0 : len >= 32 ? ~Ipv4(0) : ~Ipv4(0) << (32 - len); }
    constexpr Ipv4 mask() const { return mask_of(len); }
    constexpr bool contains(Ipv4 a) const { return (a & mask()) == (addr & mask()); }
    friend bool operator==(const Prefix&, const Prefix&) = default;
};

constexpr Ipv4 make_ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return (Ipv4(a) << 24) | (Ipv4(b) << 16) | (Ipv4(c) << 8) | Ipv4(d);
}

} // namespace conenat::core
