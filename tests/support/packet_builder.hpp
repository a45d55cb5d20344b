// Test-only IPv4 packet builder and checksum oracle. Deliberately independent of the
// core's checksum code so that it can judge it.
#pragma once

#include "conenat/core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conenat::test {

using Bytes = std::vector<std::uint8_t>;

// "10.0.0.2:5000"; throws std::invalid_argument on bad text.
core::Endpoint ep(std::string_view addr_port);
// "10.0.0.2"; throws std::invalid_argument on bad text.
core::Ipv4 ip(std::string_view addr);

class Pkt {
public:
    static Pkt udp(std::string_view src, std::string_view dst);
    static Pkt tcp(std::string_view src, std::string_view dst, std::uint8_t flags);
    static Pkt icmp_echo(std::string_view src, std::string_view dst, std::uint16_t id, bool reply = false);
    // An ICMP error from src to dst quoting the first `quote_len` bytes of `quoted`
    // (0 = its IP header + 8 bytes of L4, at most all of it).
    static Pkt icmp_error(std::string_view src, std::string_view dst, std::uint8_t type, std::uint8_t code,
                          const Bytes& quoted, std::size_t quote_len = 0);
    static Pkt raw_ip(std::string_view src, std::string_view dst, std::uint8_t proto);

    Pkt& payload(std::string_view text);
    Pkt& payload(const Bytes& data);
    Pkt& ttl(std::uint8_t v);
    Pkt& ip_id(std::uint16_t v);
    Pkt& tos(std::uint8_t v);
    Pkt& df(bool v = true);
    Pkt& mf(bool v = true);
    Pkt& frag_offset(std::uint16_t units_of_8);
    Pkt& ip_options(const Bytes& opts); // zero-padded to a multiple of 4
    Pkt& seq(std::uint32_t v);          // TCP sequence number; low 16 bits = echo sequence number
    Pkt& ack(std::uint32_t v);
    Pkt& window(std::uint16_t v);
    Pkt& tcp_options(const Bytes& opts); // zero-padded to a multiple of 4
    Pkt& window_scale(std::uint8_t shift); // NOP + the RFC 7323 option
    Pkt& mtu(std::uint16_t v);          // bytes 6-7 of an ICMP error (next-hop MTU of a 3/4)
    Pkt& udp_checksum_zero();
    Pkt& udp_checksum(std::uint16_t v);
    Pkt& bad_ip_checksum();
    Pkt& bad_l4_checksum();

    Bytes bytes() const;

private:
    enum class Shape : std::uint8_t { Udp, Tcp, IcmpEcho, IcmpError, Raw };
    enum class UdpCheck : std::uint8_t { Computed, Zero, Forced };

    Pkt(Shape shape, std::string_view src, std::string_view dst, std::uint8_t proto);
    Bytes l4_bytes() const;

    Shape m_shape;
    core::Endpoint m_src, m_dst;
    std::uint8_t m_proto;
    Bytes m_payload;
    std::uint8_t m_ttl = 64;
    std::uint16_t m_ip_id = 0x1234;
    std::uint8_t m_tos = 0;
    bool m_df = false;
    bool m_mf = false;
    std::uint16_t m_frag_offset = 0;
    Bytes m_ip_options;
    std::uint32_t m_seq = 0;
    std::uint32_t m_ack = 0;
    std::uint16_t m_window = 65535;
    Bytes m_tcp_options;
    std::uint8_t m_tcp_flags = 0;
    std::uint8_t m_icmp_type = 0;
    std::uint8_t m_icmp_code = 0;
    std::uint16_t m_icmp_id = 0;
    std::uint16_t m_mtu = 0;
    Bytes m_quote;
    UdpCheck m_udp_check = UdpCheck::Computed;
    std::uint16_t m_udp_forced = 0;
    bool m_bad_ip_check = false;
    bool m_bad_l4_check = false;
};

// Recomputes every checksum from scratch; returns "" when all are right, else one
// description per wrong checksum (or unreadable header).
std::string checksum_errors(std::span<const std::uint8_t> pkt);
// "45 00 00 1c ..." for failure messages.
std::string hex(std::span<const std::uint8_t> data);

} // namespace conenat::test
