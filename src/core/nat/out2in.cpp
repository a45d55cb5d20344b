// Inbound (outside -> inside) half of the translator.
#include "conenat/core/nat/translator.hpp"

#include "conenat/core/nat/first_packet.hpp"
#include "conenat/core/nat/flow_key.hpp"

#include "conenat/core/packet/checksum.hpp"
#include "conenat/core/packet/icmp_build.hpp"
#include "conenat/core/packet/rewrite.hpp"

#include <algorithm>

namespace conenat::core {

Outcome Translator::flow_in(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now) {
    if (const auto bad = unmappable(v, Direction::Inbound)) return {Action::Drop, *bad};
    const Proto p = flow_proto(v);
    const Endpoint remote = remote_of(p, v.src);
    const MappingId m = m_table.find_inbound(p, v.dst, now);
    if (m != kNil && p == Proto::Tcp) {
        // A connection's packets are the connection's (RFC 7857 §2); only a SYN may open one.
        if (const SessionId s = m_table.find_connection(m, remote, now); s != kNil) return tcp_in(pkt, v, m, s, now);
        if (!bare_syn(v)) return {Action::Drop, Counter::drop_tcp_no_session};
    }
    const FirstPacket first = filter_inbound(m_table, m_holds, pkt, v, m, remote, now);
    if (first.action == FirstAction::Hold) return {Action::Hold, first.reason, 0, first.token};
    if (first.action != FirstAction::Pass) return {Action::Drop, first.reason};
    if (p == Proto::Tcp) {
        Counter why{};
        const SessionId opened = m_table.open_connection(m, remote, TcpState::SynIn, now, Direction::Inbound, why);
        if (opened == kNil) return {Action::Drop, why};
        if (tcp_window_scale(pkt, v) >= 0) m_table.session(opened).tcp_offers |= Session::kScaleRemote;
    }
    return deliver_in(pkt, v, m);
}

Outcome Translator::deliver_in(std::span<std::uint8_t> pkt, PacketView& v, MappingId m) {
    rewrite_destination(pkt, v, m_table.mapping(m).internal());
    m_table.counters().add(Counter::translated_in);
    return {Action::ToInside, Counter::translated_in};
}

// A packet of connection `s` of mapping `m`: its state moves (RFC 7857 §2), it goes in.
Outcome Translator::tcp_in(std::span<std::uint8_t> pkt, PacketView& v, MappingId m, SessionId s, TimeMs now) {
    const std::uint8_t flags = v.tcp_flags;
    Session& session = m_table.session(s);
    const std::uint8_t* tcp = pkt.data() + v.l4_off;
    if ((flags & tcp_flag::Syn) && tcp_window_scale(pkt, v) >= 0) session.tcp_offers |= Session::kScaleRemote;
    // RFC 7857 §2.2: an RST changes state only if it belongs to the connection: its
    // sequence number lies in the inside's receive window as last advertised (RFC 5961 §3,
    // as conntrack judges it); an off-path RST is still forwarded: the end host judges it too.
    bool genuine = true;
    if (flags & tcp_flag::Rst) {
        if (session.tcp == TcpState::SynOut)
            genuine = (flags & tcp_flag::Ack) && load32(tcp + 8) == session.tcp_track;
        else
            genuine = load32(tcp + 4) - session.tcp_track < std::max<std::uint32_t>(session.tcp_window, 1);
    }
    if (!genuine) {
        m_table.counters().add(Counter::rst_out_of_window);
        return deliver_in(pkt, v, m);
    }
    if ((flags & tcp_flag::Syn) && session.tcp == TcpState::SynOut)
        session.tcp_track = load32(tcp + 4) + 1; // from now on RSTs are judged by their sequence number
    m_table.set_connection_state(s, tcp_next(session.tcp, Direction::Inbound, flags), now, false);
    return deliver_in(pkt, v, m);
}

// RFC 5508 REQ-4: an error about one of our outbound packets; restored, never refreshing.
Outcome Translator::error_in(std::span<std::uint8_t> pkt, PacketView& v, TimeMs now) {
    const Proto p = Proto(v.inner.proto);
    const MappingId m = m_table.find_inbound(p, v.inner.src, now);
    // The quoted packet must be one the mapping could have sent: off-path errors are dropped.
    if (m == kNil || !m_table.permits(m, remote_of(p, v.inner.dst), now))
        return {Action::Drop, Counter::drop_icmp_no_mapping};
    const Mapping& map = m_table.mapping(m);
    rewrite_inner_source(pkt, v, map.internal());
    rewrite_destination_addr(pkt, v, map.int_addr);
    m_table.counters().add(Counter::icmp_errors_translated);
    m_table.counters().add(Counter::translated_in);
    return {Action::ToInside, Counter::translated_in};
}

} // namespace conenat::core
