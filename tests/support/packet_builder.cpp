#include "tests/support/packet_builder.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace conenat::test {
namespace {

constexpr std::uint8_t ProtoIcmp = 1, ProtoTcp = 6, ProtoUdp = 17;

void put16(Bytes& b, std::size_t off, std::uint16_t v) {
    b[off] = std::uint8_t(v >> 8);
    b[off + 1] = std::uint8_t(v);
}
void put32(Bytes& b, std::size_t off, std::uint32_t v) {
    put16(b, off, std::uint16_t(v >> 16));
    put16(b, off + 2, std::uint16_t(v));
}
std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t off) {
    return std::uint16_t(b[off] << 8 | b[off + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t off) {
    return std::uint32_t(get16(b, off)) << 16 | get16(b, off + 2);
}

// Plain RFC 1071 reference: ~(one's-complement sum of big-endian words), odd tail zero-padded.
std::uint16_t ref_checksum(std::span<const std::uint8_t> data) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < data.size(); ++i)
        sum += (i % 2 == 0) ? std::uint64_t(data[i]) << 8 : data[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(~sum);
}

Bytes pseudo_header(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::size_t len) {
    Bytes b(12, 0);
    put32(b, 0, src);
    put32(b, 4, dst);
    b[9] = proto;
    put16(b, 10, std::uint16_t(len));
    return b;
}

// The checksum that `segment` should carry at `check_off`, with an optional pseudo-header.
std::uint16_t expected_checksum(std::span<const std::uint8_t> segment, std::size_t check_off, const Bytes& pseudo) {
    Bytes all(pseudo);
    all.insert(all.end(), segment.begin(), segment.end());
    all[pseudo.size() + check_off] = 0;
    all[pseudo.size() + check_off + 1] = 0;
    return ref_checksum(all);
}

std::uint32_t parse_ip(std::string_view text) {
    std::uint32_t addr = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int i = 0; i < 4; ++i) {
        unsigned octet = 0;
        auto [next, ec] = std::from_chars(p, end, octet);
        if (ec != std::errc{} || next == p || octet > 255 || next - p > 3)
            throw std::invalid_argument("bad IPv4 address: " + std::string(text));
        addr = addr << 8 | octet;
        p = next;
        if (i < 3) {
            if (p == end || *p != '.')
                throw std::invalid_argument("bad IPv4 address: " + std::string(text));
            ++p;
        }
    }
    if (p != end)
        throw std::invalid_argument("bad IPv4 address: " + std::string(text));
    return addr;
}

std::string hex16(std::uint16_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", v);
    return buf;
}

} // namespace

core::Ipv4 ip(std::string_view addr) { return parse_ip(addr); }

core::Endpoint ep(std::string_view addr_port) {
    const auto colon = addr_port.rfind(':');
    if (colon == std::string_view::npos)
        throw std::invalid_argument("expected addr:port: " + std::string(addr_port));
    const auto port_text = addr_port.substr(colon + 1);
    unsigned port = 0;
    auto [next, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || port_text.empty() || next != port_text.data() + port_text.size() || port > 65535)
        throw std::invalid_argument("bad port: " + std::string(addr_port));
    return {parse_ip(addr_port.substr(0, colon)), std::uint16_t(port)};
}

Pkt::Pkt(Shape shape, std::string_view src, std::string_view dst, std::uint8_t proto)
    : m_shape(shape), m_proto(proto) {
    const bool has_ports = shape == Shape::Udp || shape == Shape::Tcp;
    m_src = has_ports ? ep(src) : core::Endpoint{ip(src), 0};
    m_dst = has_ports ? ep(dst) : core::Endpoint{ip(dst), 0};
}

Pkt Pkt::udp(std::string_view src, std::string_view dst) { return Pkt(Shape::Udp, src, dst, ProtoUdp); }

Pkt Pkt::tcp(std::string_view src, std::string_view dst, std::uint8_t flags) {
    Pkt p(Shape::Tcp, src, dst, ProtoTcp);
    p.m_tcp_flags = flags;
    return p;
}

Pkt Pkt::icmp_echo(std::string_view src, std::string_view dst, std::uint16_t id, bool reply) {
    Pkt p(Shape::IcmpEcho, src, dst, ProtoIcmp);
    p.m_icmp_type = reply ? 0 : 8;
    p.m_icmp_id = id;
    return p;
}

Pkt Pkt::icmp_error(std::string_view src, std::string_view dst, std::uint8_t type, std::uint8_t code,
                    const Bytes& quoted, std::size_t quote_len) {
    Pkt p(Shape::IcmpError, src, dst, ProtoIcmp);
    p.m_icmp_type = type;
    p.m_icmp_code = code;
    if (quote_len == 0)
        quote_len = quoted.empty() ? 0 : std::size_t(quoted[0] & 0x0f) * 4 + 8;
    p.m_quote.assign(quoted.begin(), quoted.begin() + std::ptrdiff_t(std::min(quote_len, quoted.size())));
    return p;
}

Pkt Pkt::raw_ip(std::string_view src, std::string_view dst, std::uint8_t proto) {
    return Pkt(Shape::Raw, src, dst, proto);
}

Pkt& Pkt::payload(std::string_view text) { m_payload.assign(text.begin(), text.end()); return *this; }
Pkt& Pkt::payload(const Bytes& data) { m_payload = data; return *this; }
Pkt& Pkt::ttl(std::uint8_t v) { m_ttl = v; return *this; }
Pkt& Pkt::ip_id(std::uint16_t v) { m_ip_id = v; return *this; }
Pkt& Pkt::tos(std::uint8_t v) { m_tos = v; return *this; }
Pkt& Pkt::df(bool v) { m_df = v; return *this; }
Pkt& Pkt::mf(bool v) { m_mf = v; return *this; }
Pkt& Pkt::frag_offset(std::uint16_t units_of_8) { m_frag_offset = units_of_8; return *this; }
Pkt& Pkt::seq(std::uint32_t v) { m_seq = v; return *this; }
Pkt& Pkt::ack(std::uint32_t v) { m_ack = v; return *this; }
Pkt& Pkt::window(std::uint16_t v) { m_window = v; return *this; }
Pkt& Pkt::tcp_options(const Bytes& opts) { m_tcp_options = opts; return *this; }
Pkt& Pkt::window_scale(std::uint8_t shift) { return tcp_options({1, 3, 3, shift}); }
Pkt& Pkt::mtu(std::uint16_t v) { m_mtu = v; return *this; }
Pkt& Pkt::udp_checksum_zero() { m_udp_check = UdpCheck::Zero; return *this; }
Pkt& Pkt::udp_checksum(std::uint16_t v) { m_udp_check = UdpCheck::Forced; m_udp_forced = v; return *this; }
Pkt& Pkt::bad_ip_checksum() { m_bad_ip_check = true; return *this; }
Pkt& Pkt::bad_l4_checksum() { m_bad_l4_check = true; return *this; }

Pkt& Pkt::ip_options(const Bytes& opts) {
    m_ip_options = opts;
    m_ip_options.resize((opts.size() + 3) / 4 * 4, 0);
    return *this;
}

Bytes Pkt::l4_bytes() const {
    Bytes l4;
    std::size_t check_off = 0;
    Bytes pseudo;
    switch (m_shape) {
    case Shape::Udp:
        l4.assign(8, 0);
        put16(l4, 0, m_src.port);
        put16(l4, 2, m_dst.port);
        put16(l4, 4, std::uint16_t(8 + m_payload.size()));
        check_off = 6;
        pseudo = pseudo_header(m_src.addr, m_dst.addr, ProtoUdp, 8 + m_payload.size());
        break;
    case Shape::Tcp: {
        const std::size_t hlen = 20 + (m_tcp_options.size() + 3) / 4 * 4;
        l4.assign(hlen, 0);
        put16(l4, 0, m_src.port);
        put16(l4, 2, m_dst.port);
        put32(l4, 4, m_seq);
        put32(l4, 8, m_ack);
        l4[12] = std::uint8_t(hlen / 4 << 4);
        l4[13] = m_tcp_flags;
        put16(l4, 14, m_window);
        std::copy(m_tcp_options.begin(), m_tcp_options.end(), l4.begin() + 20);
        check_off = 16;
        pseudo = pseudo_header(m_src.addr, m_dst.addr, ProtoTcp, hlen + m_payload.size());
        break;
    }
    case Shape::IcmpEcho:
        l4.assign(8, 0);
        l4[0] = m_icmp_type;
        put16(l4, 4, m_icmp_id);
        put16(l4, 6, std::uint16_t(m_seq));
        check_off = 2;
        break;
    case Shape::IcmpError:
        l4.assign(8, 0);
        l4[0] = m_icmp_type;
        l4[1] = m_icmp_code;
        put16(l4, 6, m_mtu);
        l4.insert(l4.end(), m_quote.begin(), m_quote.end());
        check_off = 2;
        break;
    case Shape::Raw:
        return m_payload;
    }
    l4.insert(l4.end(), m_payload.begin(), m_payload.end());

    std::uint16_t check = expected_checksum(l4, check_off, pseudo);
    if (m_shape == Shape::Udp) {
        if (check == 0)
            check = 0xffff; // RFC 768
        if (m_udp_check == UdpCheck::Zero)
            check = 0;
        else if (m_udp_check == UdpCheck::Forced)
            check = m_udp_forced;
    }
    if (m_bad_l4_check) {
        check = std::uint16_t(check + 1);
        if (m_shape == Shape::Udp && (check == 0 || check == 0xffff))
            check = 0xfffe; // still wrong, and never "no checksum"
    }
    put16(l4, check_off, check);
    return l4;
}

Bytes Pkt::bytes() const {
    const std::size_t hlen = 20 + m_ip_options.size();
    if (hlen > 60)
        throw std::invalid_argument("IP options longer than 40 bytes");
    const Bytes l4 = l4_bytes();
    Bytes pkt(hlen, 0);
    pkt[0] = std::uint8_t(0x40 | hlen / 4);
    pkt[1] = m_tos;
    put16(pkt, 2, std::uint16_t(hlen + l4.size()));
    put16(pkt, 4, m_ip_id);
    put16(pkt, 6, std::uint16_t((m_df ? 0x4000 : 0) | (m_mf ? 0x2000 : 0) | (m_frag_offset & 0x1fff)));
    pkt[8] = m_ttl;
    pkt[9] = m_proto;
    put32(pkt, 12, m_src.addr);
    put32(pkt, 16, m_dst.addr);
    std::copy(m_ip_options.begin(), m_ip_options.end(), pkt.begin() + 20);
    put16(pkt, 10, std::uint16_t(ref_checksum(pkt) + (m_bad_ip_check ? 1 : 0)));
    pkt.insert(pkt.end(), l4.begin(), l4.end());
    return pkt;
}

namespace {

class Report {
public:
    void check(const char* what, std::uint16_t actual, std::uint16_t expected) {
        if (actual != expected)
            add(std::string(what) + " checksum " + hex16(actual) + ", expected " + hex16(expected));
    }
    void add(const std::string& what) { m_text += (m_text.empty() ? "" : "; ") + what; }
    std::string text() const { return m_text; }

private:
    std::string m_text;
};

void check_transport(Report& r, const char* who, std::span<const std::uint8_t> ip_hdr, std::uint8_t proto,
                     std::span<const std::uint8_t> l4) {
    const std::uint32_t src = get32(ip_hdr, 12), dst = get32(ip_hdr, 16);
    const std::string name = std::string(who) + (proto == ProtoUdp ? "UDP" : "TCP");
    if (proto == ProtoUdp) {
        if (l4.size() < 8)
            return r.add(name + " header truncated");
        const std::size_t udp_len = get16(l4, 4);
        if (udp_len < 8 || udp_len > l4.size())
            return r.add(name + " length " + std::to_string(udp_len) + " inconsistent");
        const std::uint16_t actual = get16(l4, 6);
        if (actual == 0) // RFC 768: no checksum
            return;
        std::uint16_t expected = expected_checksum(l4.first(udp_len), 6, pseudo_header(src, dst, proto, udp_len));
        r.check(name.c_str(), actual, expected == 0 ? 0xffff : expected);
    } else {
        if (l4.size() < 20)
            return r.add(name + " header truncated");
        r.check(name.c_str(), get16(l4, 16), expected_checksum(l4, 16, pseudo_header(src, dst, proto, l4.size())));
    }
}

// The packet quoted by an ICMP error: its IP header always, its TCP/UDP checksum only
// when the whole quoted datagram is present (RFC 5508 §4.1).
void check_quoted(Report& r, std::span<const std::uint8_t> q) {
    if (q.size() < 20 || q[0] >> 4 != 4 || (q[0] & 0x0f) < 5 || std::size_t(q[0] & 0x0f) * 4 > q.size())
        return r.add("quoted IPv4 header unreadable");
    const std::size_t hlen = std::size_t(q[0] & 0x0f) * 4;
    r.check("quoted IPv4 header", get16(q, 10), expected_checksum(q.first(hlen), 10, {}));
    const std::size_t total = get16(q, 2);
    const bool fragment = (get16(q, 6) & 0x3fff) != 0;
    const std::uint8_t proto = q[9];
    if (fragment || total < hlen || total > q.size() || (proto != ProtoUdp && proto != ProtoTcp))
        return;
    const auto l4 = q.subspan(hlen, total - hlen);
    if ((proto == ProtoUdp && l4.size() >= 8) || (proto == ProtoTcp && l4.size() >= 20))
        check_transport(r, "quoted ", q, proto, l4);
}

} // namespace

std::string checksum_errors(std::span<const std::uint8_t> pkt) {
    Report r;
    if (pkt.size() < 20 || pkt[0] >> 4 != 4 || (pkt[0] & 0x0f) < 5)
        return "not an IPv4 header";
    const std::size_t hlen = std::size_t(pkt[0] & 0x0f) * 4;
    const std::size_t ip_len = get16(pkt, 2);
    if (hlen > pkt.size() || ip_len < hlen || ip_len > pkt.size())
        return "IPv4 header or total length runs past the buffer";
    r.check("IPv4 header", get16(pkt, 10), expected_checksum(pkt.first(hlen), 10, {}));
    // A fragment's transport checksum covers bytes that are not here.
    if ((get16(pkt, 6) & 0x3fff) != 0)
        return r.text();
    const auto l4 = pkt.subspan(hlen, ip_len - hlen);
    const std::uint8_t proto = pkt[9];
    if (proto == ProtoUdp || proto == ProtoTcp) {
        check_transport(r, "", pkt, proto, l4);
    } else if (proto == ProtoIcmp) {
        if (l4.size() < 8)
            return r.add("ICMP header truncated"), r.text();
        r.check("ICMP", get16(l4, 2), expected_checksum(l4, 2, {}));
        if (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)
            check_quoted(r, l4.subspan(8));
    }
    return r.text();
}

std::string hex(std::span<const std::uint8_t> data) {
    std::string out;
    char buf[4];
    for (std::size_t i = 0; i < data.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", data[i]);
        if (i)
            out += ' ';
        out += buf;
    }
    return out;
}

} // namespace conenat::test
