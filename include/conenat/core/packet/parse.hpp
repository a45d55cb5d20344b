// IPv4 packet classification. Parsing never fails and never allocates: it returns a
// PacketView of offsets into the caller's buffer and a kind; bad input is a kind too.
#pragma once

#include "conenat/core/types.hpp"

#include <cstdint>
#include <span>

namespace conenat::core {

enum class PacketKind : std::uint8_t {
    Malformed, // see Defect; never translated
    Other,     // well-formed IPv4 the NAT does not translate (other protocols, other ICMP types)
    Fragment,  // a non-first fragment: no transport header
    Udp,
    Tcp,
    IcmpQuery, // echo request / echo reply; port fields hold the query identifier
    IcmpError, // destination unreachable, time exceeded, parameter problem; inner.* is the quoted packet
};

enum class Defect : std::uint8_t {
    None,
    Truncated,        // a header or a length field runs past the buffer
    BadIpHeader,      // version != 4, IHL < 5, total length < IHL*4
    BadIpChecksum,    // outer IPv4 header checksum
    BadL4Header,      // e.g. TCP data offset < 5, UDP length inconsistent with IP
    BadIcmpChecksum,  // ICMP error with a wrong ICMP checksum (RFC 5508 REQ-3 i)
    BadInnerHeader,   // ICMP error quoting a packet that is not IPv4 + >= 8 bytes of L4
    BadInnerChecksum, // quoted IPv4 header checksum wrong (RFC 5508 REQ-3a)
};

// The quoted packet inside an ICMP error (its header as the original sender sent it).
struct InnerView {
    std::uint16_t ip_off = 0;  // offset of the quoted IPv4 header in the buffer
    std::uint8_t ip_hlen = 0;  // its IHL*4 (options are stepped over, RFC 5508 REQ-3b)
    std::uint8_t proto = 0;    // 1, 6 or 17
    std::uint16_t l4_off = 0;  // offset of the quoted transport header
    std::uint16_t l4_len = 0;  // quoted transport bytes present (>= 8)
    Endpoint src{}, dst{};     // ports, or the query id in both for a quoted ICMP query
    std::uint8_t icmp_type = 0; // when proto == 1: 8 or 0
};

struct PacketView {
    PacketKind kind = PacketKind::Malformed;
    Defect defect = Defect::None;
    std::uint8_t proto = 0;      // IPv4 protocol field
    std::uint8_t ip_hlen = 0;    // IHL*4
    std::uint8_t ttl = 0;
    bool more_fragments = false; // MF set (a first fragment when kind is Udp/Tcp/Icmp*)
    bool dont_fragment = false;
    std::uint16_t ip_len = 0;    // total length field (<= buffer size; bytes past it are ignored)
    std::uint16_t l4_off = 0;    // == ip_hlen
    Endpoint src{}, dst{};       // for IcmpQuery both ports are the identifier; for IcmpError ports are 0
    std::uint8_t tcp_flags = 0;  // when Tcp
    std::uint8_t icmp_type = 0;  // when IcmpQuery / IcmpError
    std::uint8_t icmp_code = 0;
    InnerView inner{};           // when IcmpError
};

// TCP flag bits as in the TCP header.
namespace tcp_flag {
constexpr std::uint8_t Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10;
}

// Classifies `pkt` (an IPv4 packet starting at byte 0). Reads only inside `pkt`.
PacketView parse_ipv4(std::span<const std::uint8_t> pkt);

// The shift of a TCP segment's window scale option (RFC 7323 §2.2, capped at 14), or -1 when
// it has none. `v` is parse_ipv4(pkt) of kind Tcp. Reads only inside the TCP header.
int tcp_window_scale(std::span<const std::uint8_t> pkt, const PacketView& v);

} // namespace conenat::core
