#include "conenat/core/packet/rewrite.hpp"

#include "conenat/core/packet/checksum.hpp"

#include <algorithm>

namespace conenat::core {
namespace {

constexpr std::size_t IpCheck = 10, IpSrc = 12, IpDst = 16;
constexpr std::size_t UdpCheck = 6, TcpCheck = 16, IcmpCheck = 2, IcmpId = 4;

// A checksum field in the packet, updated with RFC 1624 eqn. 3 as the words it covers change.
class CheckField {
public:
    explicit CheckField(std::uint8_t* p) : m_p(p), m_old(load16(p)), m_check(m_old) {}
    void replace16(std::uint16_t from, std::uint16_t to) { m_check = csum_replace16(m_check, from, to); }
    void replace32(std::uint32_t from, std::uint32_t to) { m_check = csum_replace32(m_check, from, to); }
    // RFC 768: a computed UDP checksum of 0 is sent as 0xFFFF (0 means "none").
    void store_udp() { store(m_check == 0 ? 0xffff : m_check); }
    void store() { store(m_check); }
    void store(std::uint16_t v) { store16(m_p, v); m_new = v; }
    std::uint16_t old_value() const { return m_old; }
    std::uint16_t new_value() const { return m_new; }

private:
    std::uint8_t* m_p;
    std::uint16_t m_old, m_check, m_new = 0;
};

bool is_translatable(PacketKind kind) {
    return kind == PacketKind::Udp || kind == PacketKind::Tcp || kind == PacketKind::IcmpQuery;
}

// The rewrite functions trust `view` to come from parse_ipv4 over this buffer; this guard
// only keeps a mismatched view from touching bytes outside the packet.
bool fits(std::span<std::uint8_t> pkt, const PacketView& view) {
    if (view.kind == PacketKind::Malformed || view.ip_len > pkt.size() || view.l4_off < 20)
        return false;
    std::size_t l4_needed = 0;
    switch (view.kind) {
    case PacketKind::Udp:
    case PacketKind::IcmpQuery:
        l4_needed = 8;
        break;
    case PacketKind::Tcp:
        l4_needed = 20;
        break;
    case PacketKind::IcmpError:
        return view.inner.ip_off >= view.l4_off + 8u && view.inner.l4_off >= view.inner.ip_off + 20u &&
               view.inner.l4_off + 8u <= view.ip_len;
    default:
        break;
    }
    return view.l4_off + l4_needed <= view.ip_len;
}

// Sets the IPv4 address at `addr_off` and its header checksum; returns the old address.
std::uint32_t set_ip_addr(std::uint8_t* ip, std::size_t addr_off, Ipv4 to) {
    const std::uint32_t old = load32(ip + addr_off);
    store16(ip + IpCheck, csum_replace32(load16(ip + IpCheck), old, to));
    store32(ip + addr_off, to);
    return old;
}

// The ICMP checksum covers the whole message with no pseudo-header (RFC 792). Eqn. 3 cannot
// produce the -0 that an all-zero message needs (RFC 1624 §3), e.g. an echo reply with id 0.
void store_icmp_check(std::span<std::uint8_t> msg, CheckField& check) {
    check.store();
    if (check.new_value() == 0 && std::all_of(msg.begin(), msg.end(), [](std::uint8_t b) { return b == 0; }))
        check.store(0xffff);
}

// Outer TCP/UDP/ICMP-query rewrite: `addr_off` is 12 or 16, `port_off` 0 or 2 (ignored for ICMP).
void rewrite_endpoint(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to, std::size_t addr_off,
                      std::size_t port_off) {
    std::uint8_t* ip = pkt.data();
    std::uint8_t* l4 = ip + view.l4_off;
    const std::uint32_t old_addr = set_ip_addr(ip, addr_off, to.addr);
    switch (view.kind) {
    case PacketKind::Udp: {
        const std::uint16_t old_port = load16(l4 + port_off);
        store16(l4 + port_off, to.port);
        CheckField check(l4 + UdpCheck);
        if (check.old_value() == 0) // RFC 768: no checksum stays no checksum
            break;
        check.replace32(old_addr, to.addr);
        check.replace16(old_port, to.port);
        check.store_udp();
        break;
    }
    case PacketKind::Tcp: {
        const std::uint16_t old_port = load16(l4 + port_off);
        store16(l4 + port_off, to.port);
        CheckField check(l4 + TcpCheck);
        check.replace32(old_addr, to.addr);
        check.replace16(old_port, to.port);
        check.store();
        break;
    }
    default: { // IcmpQuery: the identifier is both "ports"
        const std::uint16_t old_id = load16(l4 + IcmpId);
        store16(l4 + IcmpId, to.port);
        CheckField check(l4 + IcmpCheck);
        check.replace16(old_id, to.port);
        store_icmp_check(pkt.subspan(view.l4_off, view.ip_len - view.l4_off), check);
        break;
    }
    }
}

// Rewrites the quoted packet of an ICMP error per the recipe in RFC 5508 §4.2 / RFC 3022:
// every word changed inside the ICMP payload is also folded into the outer ICMP checksum.
void rewrite_inner(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to, std::size_t addr_off,
                   std::size_t port_off) {
    const InnerView& in = view.inner;
    std::uint8_t* ip = pkt.data() + in.ip_off;
    std::uint8_t* l4 = pkt.data() + in.l4_off;
    CheckField icmp(pkt.data() + view.l4_off + IcmpCheck);

    const std::uint16_t old_ip_check = load16(ip + IpCheck);
    const std::uint32_t old_addr = set_ip_addr(ip, addr_off, to.addr);
    icmp.replace32(old_addr, to.addr);
    icmp.replace16(old_ip_check, load16(ip + IpCheck));

    const bool is_icmp = in.proto == std::uint8_t(Proto::Icmp);
    const std::size_t id_off = is_icmp ? IcmpId : port_off;
    const std::uint16_t old_port = load16(l4 + id_off);
    store16(l4 + id_off, to.port);
    icmp.replace16(old_port, to.port);

    // The quoted transport checksum is fixed only when it lies in the quoted bytes (an 8-byte
    // quote of TCP misses it). For TCP/UDP it covers the quoted pseudo-header addresses.
    const std::size_t check_off =
        is_icmp ? IcmpCheck : (in.proto == std::uint8_t(Proto::Tcp) ? TcpCheck : UdpCheck);
    if (check_off + 2 <= std::min<std::size_t>(in.l4_len, view.ip_len - in.l4_off)) {
        CheckField l4_check(l4 + check_off);
        const bool is_udp = in.proto == std::uint8_t(Proto::Udp);
        if (!(is_udp && l4_check.old_value() == 0)) {
            if (!is_icmp)
                l4_check.replace32(old_addr, to.addr);
            l4_check.replace16(old_port, to.port);
            if (is_udp)
                l4_check.store_udp();
            else
                l4_check.store();
            icmp.replace16(l4_check.old_value(), l4_check.new_value());
        }
    }
    icmp.store();
}

// Address-only rewrite: IP header checksum, plus the pseudo-header in a TCP/UDP checksum.
void rewrite_addr(std::span<std::uint8_t> pkt, PacketView& view, Ipv4 to, std::size_t addr_off) {
    std::uint8_t* l4 = pkt.data() + view.l4_off;
    const std::uint32_t old_addr = set_ip_addr(pkt.data(), addr_off, to);
    if (view.kind == PacketKind::Tcp) {
        CheckField check(l4 + TcpCheck);
        check.replace32(old_addr, to);
        check.store();
    } else if (view.kind == PacketKind::Udp) {
        CheckField check(l4 + UdpCheck);
        if (check.old_value() != 0) {
            check.replace32(old_addr, to);
            check.store_udp();
        }
    }
}

} // namespace

void rewrite_source(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to) {
    if (!is_translatable(view.kind) || !fits(pkt, view))
        return;
    rewrite_endpoint(pkt, view, to, IpSrc, 0);
    view.src = to;
    if (view.kind == PacketKind::IcmpQuery)
        view.dst.port = to.port;
}

void rewrite_destination(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to) {
    if (!is_translatable(view.kind) || !fits(pkt, view))
        return;
    rewrite_endpoint(pkt, view, to, IpDst, 2);
    view.dst = to;
    if (view.kind == PacketKind::IcmpQuery)
        view.src.port = to.port;
}

void rewrite_inner_source(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to) {
    if (view.kind != PacketKind::IcmpError || !fits(pkt, view))
        return;
    rewrite_inner(pkt, view, to, IpSrc, 0);
    view.inner.src = to;
    if (view.inner.proto == std::uint8_t(Proto::Icmp))
        view.inner.dst.port = to.port;
}

void rewrite_inner_destination(std::span<std::uint8_t> pkt, PacketView& view, Endpoint to) {
    if (view.kind != PacketKind::IcmpError || !fits(pkt, view))
        return;
    rewrite_inner(pkt, view, to, IpDst, 2);
    view.inner.dst = to;
    if (view.inner.proto == std::uint8_t(Proto::Icmp))
        view.inner.src.port = to.port;
}

void rewrite_source_addr(std::span<std::uint8_t> pkt, PacketView& view, Ipv4 to) {
    if (!fits(pkt, view))
        return;
    rewrite_addr(pkt, view, to, IpSrc);
    view.src.addr = to;
}

void rewrite_destination_addr(std::span<std::uint8_t> pkt, PacketView& view, Ipv4 to) {
    if (!fits(pkt, view))
        return;
    rewrite_addr(pkt, view, to, IpDst);
    view.dst.addr = to;
}

} // namespace conenat::core
