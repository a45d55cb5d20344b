#include "conenat/core/nat/first_packet.hpp"

#include "conenat/core/nat/flow_key.hpp"
#include "conenat/core/packet/icmp_build.hpp"

namespace conenat::core {

namespace {

FirstPacket hold(const MappingTable& table, SynHold& holds, std::span<const std::uint8_t> pkt, const PacketView& v,
                 TimeMs now) {
    Counter why{};
    const std::uint32_t token = holds.add(v.dst, v.src, now + table.config().timeouts.tcp_syn_hold_ms, pkt, why);
    if (!token) return {FirstAction::Drop, why}; // full, the source at its bound, or a retransmission
    return {FirstAction::Hold, Counter::syn_held, kNil, token};
}

// The outbound half of a hairpin whose packets the kernel translates: no packet of it passes
// through us outbound, so the sender's mapping is refreshed here, and under APDF a TCP
// connection is opened toward the receiver: for TCP that connection is the permit
// (MappingTable::refresh_outbound), and the receiver's own first packet (ICE: both send at
// once) must get through the sender's mapping.
FirstPacket hairpin_outbound(MappingTable& table, const PacketView& v, TimeMs now) {
    FirstPacket d = first_outbound(table, v, now);
    if (d.action != FirstAction::Pass) return {FirstAction::Drop, d.reason};
    const Proto p = flow_proto(v);
    const Endpoint receiver = remote_of(p, v.dst);
    (void)table.refresh_outbound(d.mapping, receiver, now);
    const Policy& tcp = table.mapping(d.mapping).policy; // the sender's mapping's own behaviours
    if (p == Proto::Tcp && tcp.filtering == Behaviour::AddressAndPortDependent &&
        tcp.mapping != Behaviour::AddressAndPortDependent && table.find_connection(d.mapping, receiver, now) == kNil) {
        Counter ignored{};
        (void)table.open_connection(d.mapping, receiver, TcpState::SynOut, now, Direction::Outbound, ignored);
    }
    return d;
}

} // namespace

bool bare_syn(const PacketView& v) {
    return v.kind == PacketKind::Tcp && (v.tcp_flags & (tcp_flag::Syn | tcp_flag::Ack | tcp_flag::Rst)) == tcp_flag::Syn;
}

std::optional<Counter> unmappable(const PacketView& v, Direction dir) {
    if (v.kind == PacketKind::Malformed) return Counter::drop_malformed;
    if (v.kind != PacketKind::Udp && v.kind != PacketKind::Tcp && v.kind != PacketKind::IcmpQuery)
        return Counter::drop_unsupported;
    const Proto p = flow_proto(v);
    // RFC 4787 §4.2.1 leaves port 0 undefined: never map it.
    if (p != Proto::Icmp && (v.src.port == 0 || v.dst.port == 0)) return Counter::drop_port_zero;
    if (p == Proto::Icmp && v.icmp_type != (dir == Direction::Outbound ? icmp::EchoRequest : icmp::EchoReply))
        return Counter::drop_unsupported;
    return std::nullopt;
}

FirstPacket first_outbound(MappingTable& table, const PacketView& v, TimeMs now) {
    if (const auto bad = unmappable(v, Direction::Outbound)) return {FirstAction::Drop, *bad};
    const Proto p = flow_proto(v);
    const Endpoint remote = remote_of(p, v.dst);
    MappingId m = table.find_outbound(p, v.src, remote, now);
    if (m == kNil) {
        if (p == Proto::Tcp && (v.tcp_flags & tcp_flag::Rst)) return {FirstAction::Drop, Counter::drop_tcp_no_session};
        Counter why{};
        m = table.create(p, v.src, remote, now, why);
        if (m == kNil) return {FirstAction::Refuse, why};
    }
    return {FirstAction::Pass, Counter::translated_out, m};
}

FirstPacket filter_inbound(MappingTable& table, SynHold& holds, std::span<const std::uint8_t> pkt, const PacketView& v,
                           MappingId m, Endpoint remote, TimeMs now) {
    if (m != kNil && table.permits(m, remote, now)) return {FirstAction::Pass, Counter::translated_in, m};
    // RFC 5382 REQ-4: an unsolicited SYN is held, not answered, for 6 s; RFC 7857 §7: a refused
    // packet never refreshes anything.
    if (bare_syn(v)) return hold(table, holds, pkt, v, now);
    return {FirstAction::Drop, m == kNil ? Counter::drop_no_mapping : Counter::drop_filtered};
}

FirstPacket first_inbound(MappingTable& table, SynHold& holds, std::span<const std::uint8_t> pkt, const PacketView& v,
                          bool hairpin, TimeMs now) {
    if (const auto bad = unmappable(v, Direction::Inbound)) return {FirstAction::Drop, *bad};
    const Proto p = flow_proto(v);
    Endpoint remote = remote_of(p, v.src);
    if (hairpin) { // the receiver sees the sender's external endpoint
        const FirstPacket sender = hairpin_outbound(table, v, now);
        if (sender.action != FirstAction::Pass) return sender;
        remote = table.mapping(sender.mapping).external();
    }
    return filter_inbound(table, holds, pkt, v, table.find_inbound(p, v.dst, now), remote, now);
}

std::size_t refusal_reply(MappingTable& table, std::span<const std::uint8_t> pkt, const PacketView& v,
                          std::span<std::uint8_t> out) {
    const NatConfig& c = table.config();
    if (c.on_exhausted == ExhaustedReply::None || out.empty()) return 0;
    const std::uint8_t code =
        c.on_exhausted == ExhaustedReply::HostUnreachable ? icmp::CodeHostUnreachable : icmp::CodeAdminProhibited;
    const std::vector<Ipv4>& ours = table.ports().config().external_addrs; // deduplicated, as indexed
    if (!c.icmp_source && ours.empty()) return 0; // no WAN address yet: no source to send from
    const Ipv4 from = c.icmp_source ? c.icmp_source : ours[table.ports().address_index_for(v.src.addr)];
    return build_icmp_error(pkt, v, out, icmp::DestUnreachable, code, from);
}

std::size_t unsolicited_syn_reply(const NatConfig& config, std::span<const std::uint8_t> held,
                                  std::span<std::uint8_t> out) {
    if (config.on_unsolicited_syn == SynReply::None) return 0;
    const PacketView v = parse_ipv4(held);
    if (v.kind != PacketKind::Tcp) return 0;
    return build_icmp_error(held, v, out, icmp::DestUnreachable, icmp::CodePortUnreachable, v.dst.addr);
}

} // namespace conenat::core
