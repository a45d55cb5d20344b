#include "conenat/core/packet/icmp_build.hpp"

#include "conenat/core/packet/checksum.hpp"

#include <algorithm>
#include <cstring>

namespace conenat::core {
namespace {

constexpr std::size_t IpHeader = 20, IcmpHeader = 8;
constexpr std::uint8_t DefaultTtl = 64;

// RFC 1812 §4.3.2.7: no error to a source that does not name a single host.
bool is_host_source(Ipv4 a) {
    const std::uint8_t top = std::uint8_t(a >> 24);
    return a != 0 && top != 127 && top < 224; // 224/4 multicast, 240/4 class E incl. broadcast
}

bool is_group_destination(Ipv4 a) { return (a >> 28) == 0xe || a == 0xffffffff; }

// RFC 1812 §4.3.2.7 (and RFC 1122 §3.2.2): never an error about an ICMP error.
bool quotes_icmp_error(std::span<const std::uint8_t> orig, const PacketView& view) {
    if (view.kind == PacketKind::IcmpError)
        return true;
    if (view.proto != std::uint8_t(Proto::Icmp) || view.l4_off >= view.ip_len || view.l4_off >= orig.size())
        return false;
    const std::uint8_t type = orig[view.l4_off];
    return type == icmp::DestUnreachable || type == 4 /* source quench */ || type == 5 /* redirect */ ||
           type == icmp::TimeExceeded || type == icmp::ParameterProblem;
}

} // namespace

std::size_t build_icmp_error(std::span<const std::uint8_t> orig, const PacketView& view,
                             std::span<std::uint8_t> out, std::uint8_t type, std::uint8_t code,
                             Ipv4 from, std::uint16_t mtu) {
    if (view.kind == PacketKind::Malformed || view.kind == PacketKind::Fragment ||
        quotes_icmp_error(orig, view) || !is_host_source(view.src.addr) || is_group_destination(view.dst.addr))
        return 0;
    const std::size_t quote = std::min<std::size_t>({view.ip_len, orig.size(), icmp::kErrorQuoteBytes});
    if (quote < IpHeader)
        return 0;
    const std::size_t total = IpHeader + IcmpHeader + quote;
    if (out.size() < total)
        return 0;

    std::uint8_t* ip = out.data();
    std::fill_n(ip, IpHeader + IcmpHeader, std::uint8_t(0));
    ip[0] = 0x45;
    ip[1] = orig[1]; // RFC 5508 §7 REQ-10d: copy the DS field
    store16(ip + 2, std::uint16_t(total));
    ip[8] = DefaultTtl;
    ip[9] = std::uint8_t(Proto::Icmp);
    store32(ip + 12, from);
    store32(ip + 16, view.src.addr);
    store16(ip + 10, csum_finish(csum_partial(out.first(IpHeader))));

    std::uint8_t* msg = ip + IpHeader;
    msg[0] = type;
    msg[1] = code;
    if (type == icmp::DestUnreachable && code == icmp::CodeFragNeeded)
        store16(msg + 6, mtu); // RFC 1191 §4: next-hop MTU
    std::memcpy(msg + IcmpHeader, orig.data(), quote);
    store16(msg + 2, csum_finish(csum_partial(out.subspan(IpHeader, IcmpHeader + quote))));
    return total;
}

} // namespace conenat::core
