#include "conenat/core/packet/parse.hpp"

#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/icmp_build.hpp"

#include <algorithm>

namespace conenat::core {
namespace {

constexpr std::uint16_t IpFlagDf = 0x4000, IpFlagMf = 0x2000, IpFragOffsetMask = 0x1fff;
constexpr std::size_t IpMinHeader = 20, UdpHeader = 8, TcpMinHeader = 20, IcmpHeader = 8;

PacketView& malformed(PacketView& view, Defect defect) {
    view.kind = PacketKind::Malformed;
    view.defect = defect;
    return view;
}

// A stored Internet checksum is right when the words it covers sum to -0 (RFC 1071 §1).
bool checksum_ok(std::span<const std::uint8_t> bytes) { return csum_fold(csum_partial(bytes)) == 0xffff; }

bool is_echo(std::uint8_t type, std::uint8_t code) {
    return (type == icmp::EchoRequest || type == icmp::EchoReply) && code == 0;
}

bool is_icmp_error(std::uint8_t type) {
    return type == icmp::DestUnreachable || type == icmp::TimeExceeded || type == icmp::ParameterProblem;
}

// `l4` is the transport header and payload within ip_len.
PacketView& parse_udp(std::span<const std::uint8_t> l4, PacketView& view) {
    if (l4.size() < UdpHeader)
        return malformed(view, Defect::Truncated);
    // A first fragment carries only part of the datagram that the UDP length describes.
    const std::uint16_t udp_len = load16(&l4[4]);
    if (!view.more_fragments && (udp_len < UdpHeader || udp_len > l4.size()))
        return malformed(view, Defect::BadL4Header);
    view.kind = PacketKind::Udp;
    view.src.port = load16(&l4[0]);
    view.dst.port = load16(&l4[2]);
    return view;
}

PacketView& parse_tcp(std::span<const std::uint8_t> l4, PacketView& view) {
    if (l4.size() < TcpMinHeader)
        return malformed(view, Defect::Truncated);
    const std::size_t data_off = std::size_t(l4[12] >> 4) * 4;
    if (data_off < TcpMinHeader || data_off > l4.size())
        return malformed(view, Defect::BadL4Header);
    view.kind = PacketKind::Tcp;
    view.src.port = load16(&l4[0]);
    view.dst.port = load16(&l4[2]);
    view.tcp_flags = l4[13];
    return view;
}

// The packet quoted by an ICMP error starts at `off` in `pkt` (RFC 5508 §4.1 REQ-3).
PacketView& parse_quoted(std::span<const std::uint8_t> pkt, std::size_t off, PacketView& view) {
    const auto quoted = pkt.subspan(off);
    if (quoted.size() < IpMinHeader || quoted[0] >> 4 != 4)
        return malformed(view, Defect::BadInnerHeader);
    const std::size_t hlen = std::size_t(quoted[0] & 0x0f) * 4;
    if (hlen < IpMinHeader || hlen > quoted.size())
        return malformed(view, Defect::BadInnerHeader);
    if (!checksum_ok(quoted.first(hlen)))
        return malformed(view, Defect::BadInnerChecksum);
    // REQ-3b: step over quoted options. The quoted total length may exceed what is quoted.
    const auto l4 = quoted.subspan(hlen);
    if (l4.size() < 8)
        return malformed(view, Defect::BadInnerHeader);

    InnerView& inner = view.inner;
    inner.ip_off = std::uint16_t(off);
    inner.ip_hlen = std::uint8_t(hlen);
    inner.proto = quoted[9];
    inner.l4_off = std::uint16_t(off + hlen);
    inner.l4_len = std::uint16_t(l4.size());
    inner.src.addr = load32(&quoted[12]);
    inner.dst.addr = load32(&quoted[16]);
    view.kind = PacketKind::Other;

    // A quoted non-first fragment has no transport header to match a mapping with.
    if ((load16(&quoted[6]) & IpFragOffsetMask) != 0)
        return view;
    // REQ-3c: the quoted transport checksum is deliberately not validated.
    switch (inner.proto) {
    case std::uint8_t(Proto::Udp):
    case std::uint8_t(Proto::Tcp):
        inner.src.port = load16(&l4[0]);
        inner.dst.port = load16(&l4[2]);
        break;
    case std::uint8_t(Proto::Icmp):
        if (!is_echo(l4[0], l4[1]))
            return view;
        inner.icmp_type = l4[0];
        inner.src.port = inner.dst.port = load16(&l4[4]);
        break;
    default:
        return view;
    }
    view.kind = PacketKind::IcmpError;
    return view;
}

PacketView& parse_icmp(std::span<const std::uint8_t> pkt, PacketView& view) {
    const auto l4 = pkt.subspan(view.l4_off);
    if (l4.size() < IcmpHeader)
        return malformed(view, Defect::Truncated);
    view.icmp_type = l4[0];
    view.icmp_code = l4[1];
    if (is_echo(view.icmp_type, view.icmp_code)) {
        view.kind = PacketKind::IcmpQuery;
        view.src.port = view.dst.port = load16(&l4[4]);
        return view;
    }
    if (!is_icmp_error(view.icmp_type)) {
        view.kind = PacketKind::Other;
        return view;
    }
    // REQ-3 (i). A first fragment holds only part of the message its checksum covers.
    if (!view.more_fragments && !checksum_ok(l4))
        return malformed(view, Defect::BadIcmpChecksum);
    return parse_quoted(pkt, view.l4_off + IcmpHeader, view);
}

} // namespace

PacketView parse_ipv4(std::span<const std::uint8_t> pkt) {
    PacketView view;
    if (pkt.size() < IpMinHeader)
        return malformed(view, Defect::Truncated);
    const std::size_t hlen = std::size_t(pkt[0] & 0x0f) * 4;
    if (pkt[0] >> 4 != 4 || hlen < IpMinHeader)
        return malformed(view, Defect::BadIpHeader);
    if (hlen > pkt.size())
        return malformed(view, Defect::Truncated);
    const std::uint16_t ip_len = load16(&pkt[2]);
    if (ip_len < hlen)
        return malformed(view, Defect::BadIpHeader);
    if (ip_len > pkt.size())
        return malformed(view, Defect::Truncated);
    if (!checksum_ok(pkt.first(hlen)))
        return malformed(view, Defect::BadIpChecksum);

    const std::uint16_t frag = load16(&pkt[6]);
    view.proto = pkt[9];
    view.ip_hlen = std::uint8_t(hlen);
    view.ttl = pkt[8];
    view.more_fragments = (frag & IpFlagMf) != 0;
    view.dont_fragment = (frag & IpFlagDf) != 0;
    view.ip_len = ip_len;
    view.l4_off = std::uint16_t(hlen);
    view.src.addr = load32(&pkt[12]);
    view.dst.addr = load32(&pkt[16]);
    if ((frag & IpFragOffsetMask) != 0) {
        view.kind = PacketKind::Fragment;
        return view;
    }

    const auto ip = pkt.first(ip_len);
    switch (view.proto) {
    case std::uint8_t(Proto::Udp):
        return parse_udp(ip.subspan(hlen), view);
    case std::uint8_t(Proto::Tcp):
        return parse_tcp(ip.subspan(hlen), view);
    case std::uint8_t(Proto::Icmp):
        return parse_icmp(ip, view);
    default:
        view.kind = PacketKind::Other;
        return view;
    }
}

int tcp_window_scale(std::span<const std::uint8_t> pkt, const PacketView& v) {
    if (v.kind != PacketKind::Tcp) return -1;
    const std::size_t end_of_packet = std::min<std::size_t>(pkt.size(), v.ip_len);
    if (std::size_t(v.l4_off) + 20 > end_of_packet) return -1;
    const std::size_t end = std::min<std::size_t>(end_of_packet, v.l4_off + std::size_t(pkt[v.l4_off + 12] >> 4) * 4);
    for (std::size_t i = v.l4_off + 20; i < end;) {
        const std::uint8_t kind = pkt[i];
        if (kind == 0) break;               // end of options
        if (kind == 1) { ++i; continue; }   // no-op
        if (i + 1 >= end || pkt[i + 1] < 2 || i + pkt[i + 1] > end) break; // malformed: ignore the rest
        if (kind == 3 && pkt[i + 1] == 3) return std::min<int>(pkt[i + 2], 14);
        i += pkt[i + 1];
    }
    return -1;
}

} // namespace conenat::core
